using HttpKv.Robustness.Checking;
using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Tests;

/// <summary>The range checker's rules, judged against the state the watchers reconstruct: each catches a violating
/// history and accepts a valid one.</summary>
public sealed class RangeCheckerTests
{
    private int next;

    /// <summary>Revisions 1–4: a=1, b=2, a=3 (prev a=1), delete b (prev b=2).</summary>
    private static WatchLog Watcher()
    {
        var log = new WatchLog(0, "m1", 1);
        log.Events.AddRange([new SeenEvent(1, "k/a", false, "1", 1), new SeenEvent(2, "k/b", false, "2", 2),
            new SeenEvent(3, "k/a", false, "3", 3, "1", 1), new SeenEvent(4, "k/b", true, null, 4, "2", 2)]);
        return log;
    }

    private RangeRead Range(long revision, long call, long ret, bool serializable = false, int client = 0, int endpoint = 0, params RangeKv[] kvs) =>
        new(next++, client, endpoint, serializable, call, ret, revision, kvs);

    private static RangeKv Kv(string key, string value, long modRevision) => new(key, value, modRevision);

    [Fact]
    public void A_range_returns_exactly_the_state_at_its_revision()
    {
        var valid = new[]
        {
            Range(1, 0, 1, kvs: [Kv("k/a", "1", 1)]), Range(2, 0, 1, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]),
            Range(3, 0, 1, serializable: true, kvs: [Kv("k/a", "3", 3), Kv("k/b", "2", 2)]), Range(4, 0, 1, kvs: [Kv("k/a", "3", 3)]),
        };
        Assert.Empty(RangeChecker.Check([Watcher()], valid, [], out var judged));
        Assert.Equal(4, judged);
        Assert.Single(RangeChecker.Check([Watcher()], [Range(3, 0, 1, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)])], [])); // an old value
        Assert.Single(RangeChecker.Check([Watcher()], [Range(3, 0, 1, kvs: [Kv("k/a", "3", 2), Kv("k/b", "2", 2)])], [])); // a wrong mod_revision
        Assert.Single(RangeChecker.Check([Watcher()], [Range(3, 0, 1, kvs: [Kv("k/a", "3", 3)])], [])); // b missing
        Assert.Single(RangeChecker.Check([Watcher()], [Range(4, 0, 1, kvs: [Kv("k/a", "3", 3), Kv("k/b", "2", 2)])], [])); // b deleted at 4
        Assert.Single(RangeChecker.Check([Watcher()], [Range(1, 0, 1, kvs: [Kv("k/a", "1", 1), Kv("k/c", "9", 1)])], [])); // never written
        Assert.Single(RangeChecker.Check([Watcher()], [Range(2, 0, 1, serializable: true, kvs: [Kv("k/a", "3", 3), Kv("k/b", "2", 2)])], [])); // from the future
        Assert.Empty(RangeChecker.Check([Watcher()], [Range(9, 0, 1, kvs: [Kv("k/z", "9", 9)])], [], out judged)); // past what the watchers saw: not judged
        Assert.Equal(0, judged);
    }

    [Fact]
    public void Keys_that_may_have_changed_in_a_revision_no_watcher_saw_are_not_judged_and_the_others_are()
    {
        var log = new WatchLog(0, "m1", 1);
        log.Events.AddRange([new SeenEvent(1, "k/a", false, "1", 1), new SeenEvent(2, "k/b", false, "2", 2), new SeenEvent(5, "k/b", false, "5", 3)]);
        log.CompactedGaps.Add((3, 4)); // 3 and 4 unseen: k/a (and any other key) may have changed there, k/b changed after
        Assert.Empty(RangeChecker.Check([log], [Range(5, 0, 1, kvs: [Kv("k/a", "x", 4), Kv("k/b", "5", 5), Kv("k/c", "y", 3)])], []));
        Assert.Single(RangeChecker.Check([log], [Range(5, 0, 1, kvs: [Kv("k/a", "x", 4), Kv("k/b", "2", 2)])], []));
        // Another watcher that saw 3 and 4 fills the hole.
        var other = new WatchLog(1, "m2", 1);
        other.Events.AddRange([new SeenEvent(1, "k/a", false, "1", 1), new SeenEvent(2, "k/b", false, "2", 2), new SeenEvent(3, "k/a", false, "3", 3),
            new SeenEvent(4, "k/c", false, "4", 4), new SeenEvent(5, "k/b", false, "5", 5)]);
        Assert.Single(RangeChecker.Check([log, other], [Range(5, 0, 1, kvs: [Kv("k/a", "x", 4), Kv("k/b", "5", 5), Kv("k/c", "4", 4)])], []));
        Assert.Empty(RangeChecker.Check([log, other], [Range(5, 0, 1, kvs: [Kv("k/a", "3", 3), Kv("k/b", "5", 5), Kv("k/c", "4", 4)])], []));
    }

    [Fact]
    public void A_linearizable_range_is_not_older_than_a_write_acknowledged_before_it_began()
    {
        var put = new Operation(0, 1, OpKind.Put, "k/a", 0, 10) { Value = "3", Succeeded = true, Revision = 3 };
        var fresh = Range(3, 20, 30, kvs: [Kv("k/a", "3", 3), Kv("k/b", "2", 2)]);
        var stale = Range(2, 20, 30, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]);
        var concurrent = Range(2, 5, 30, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]);
        var serializable = Range(2, 20, 30, serializable: true, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]);
        Assert.Empty(RangeChecker.Check([Watcher()], [fresh, concurrent, serializable], [put]));
        Assert.Contains(RangeChecker.Check([Watcher()], [stale], [put]), problem => problem.Contains("is stale", StringComparison.Ordinal));
        // A linearizable range is itself an acknowledged read: a later one must not be older.
        var later = Range(2, 40, 50, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]);
        Assert.Contains(RangeChecker.Check([Watcher()], [fresh, later], []), problem => problem.Contains("is stale", StringComparison.Ordinal));
    }

    [Fact]
    public void Serializable_ranges_of_one_client_on_one_member_never_go_back()
    {
        var newer = Range(3, 0, 10, serializable: true, kvs: [Kv("k/a", "3", 3), Kv("k/b", "2", 2)]);
        var older = Range(2, 20, 30, serializable: true, kvs: [Kv("k/a", "1", 1), Kv("k/b", "2", 2)]);
        Assert.Contains(RangeChecker.Check([Watcher()], [newer, older], []), problem => problem.Contains("went back in time", StringComparison.Ordinal));
        var elsewhere = older with { Endpoint = 1 };
        Assert.Empty(RangeChecker.Check([Watcher()], [newer, elsewhere], []));
    }

    [Fact]
    public void A_prev_kv_must_be_the_keys_state_before_the_event()
    {
        Assert.Empty(RangeChecker.Check([Watcher()], [], []));
        var log = Watcher();
        log.Events[2] = log.Events[2] with { PrevValue = "2", PrevModRevision = 2 };
        Assert.Contains(RangeChecker.Check([log], [], []), problem => problem.Contains("prev_kv", StringComparison.Ordinal));
        log = Watcher();
        log.Events[1] = log.Events[1] with { PrevValue = "x", PrevModRevision = 1 }; // b did not exist before 2
        Assert.Contains(RangeChecker.Check([log], [], []), problem => problem.Contains("prev_kv", StringComparison.Ordinal));
    }
}
