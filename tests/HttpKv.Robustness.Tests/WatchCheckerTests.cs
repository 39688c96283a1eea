using HttpKv.Robustness.Checking;
using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Tests;

/// <summary>The watch checker's rules: each catches a violating log and accepts a valid one.</summary>
public sealed class WatchCheckerTests
{
    private static SeenEvent Put(long revision, string key, string value, int response) => new(revision, key, false, value, response);

    private static SeenEvent Delete(long revision, string key, int response) => new(revision, key, true, null, response);

    private static WatchLog Log(int id, params SeenEvent[] events)
    {
        var log = new WatchLog(id, $"m{id}", 1);
        log.Events.AddRange(events);
        return log;
    }

    private static IReadOnlyList<string> Check(params WatchLog[] logs) => WatchChecker.Check(logs, []);

    [Fact]
    public void The_events_of_one_revision_must_come_in_one_response()
    {
        Assert.Empty(Check(Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(2, "b", "2", 2), Put(3, "c", "3", 2))));
        var problems = Check(Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 1), Put(2, "b", "2", 2)));
        Assert.Contains(problems, problem => problem.Contains("not atomic", StringComparison.Ordinal));
    }

    [Fact]
    public void Revisions_must_come_one_by_one_across_members_resumes_and_progress_notifications_unless_compacted()
    {
        var whole = new WatchLog(0, "m1", 1);
        whole.Saw(2, "m1", 0);
        whole.Saw(2, "m1", 0); // a txn: two keys at one revision
        whole.Saw(3, "m1", 0);
        whole.Progressed(3, "m1", 0);
        whole.Saw(4, "m2", 0); // resumed elsewhere, at the next revision
        whole.Compacted(9); // cancelled: everything before 9 is compacted
        whole.Saw(9, "m2", 0);
        Assert.Empty(whole.Gaps);
        Assert.Equal(9, whole.SeenThrough);

        var skipped = new WatchLog(1, "m1", 1);
        skipped.Saw(2, "m1", 0);
        skipped.Saw(5, "m2", 7_000);
        var gap = Assert.Single(skipped.Gaps);
        Assert.Equal("revisions 3..4 never came: after @2, m2 sent an event at @5 (7 ms into the run)", gap.ToString());
        Assert.Contains(Check(skipped), problem => problem.Contains("revisions 3..4 never came", StringComparison.Ordinal));

        var claimed = new WatchLog(2, "m1", 1);
        claimed.Saw(2, "m1", 0);
        claimed.Progressed(4, "m3", 0); // said "everything through 4" having sent only 2
        Assert.Equal("revisions 3..4 never came: after @2, m3 sent a progress notification at @4 (0 ms into the run)", Assert.Single(claimed.Gaps).ToString());
        claimed.Saw(5, "m3", 0);
        Assert.Single(claimed.Gaps);
    }

    [Fact]
    public void A_progress_notification_must_not_be_ahead_of_the_data()
    {
        var valid = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 3), Put(5, "a", "5", 4));
        valid.Progress.Add((1, 1)); // after event @1: everything through 1 was sent
        valid.Progress.Add((2, 4)); // after @2, at 4 (3 and 4 touched nothing watched); @5 comes after
        Assert.Empty(Check(valid));
        var ahead = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 3));
        ahead.Progress.Add((1, 2)); // said "through 2" before the event @2 came
        Assert.Contains(Check(ahead), problem => problem.Contains("ahead of the data", StringComparison.Ordinal));
    }

    [Fact]
    public void A_resumed_watch_continues_exactly_at_its_resume_revision()
    {
        var other = Log(1, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(3, "a", "3", 3), Put(4, "a", "4", 4));
        var exact = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(3, "a", "3", 3), Put(4, "a", "4", 4));
        exact.Resumes.Add((2, 3));
        Assert.Empty(Check(other, exact));

        var duplicate = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(2, "a", "2", 3), Put(3, "a", "3", 4));
        duplicate.Resumes.Add((2, 3)); // resumed at 3, but revision 2 came again
        Assert.Contains(Check(other, duplicate), problem => problem.Contains("duplicate at the resume point", StringComparison.Ordinal));

        var gap = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(4, "a", "4", 3));
        gap.Resumes.Add((2, 3)); // resumed at 3, went on at 4: revision 3 (another watcher saw it) skipped
        Assert.Contains(Check(other, gap), problem => problem.Contains("gap at the resume point", StringComparison.Ordinal));

        var compacted = Log(0, Put(1, "a", "1", 1), Put(2, "a", "2", 2), Put(4, "a", "4", 3));
        compacted.Resumes.Add((2, 3));
        compacted.CompactedGaps.Add((3, 3)); // etcd said revision 3 was compacted: allowed
        Assert.Empty(Check(other, compacted));
    }

    [Fact]
    public void A_revoke_deletes_its_leases_keys_at_one_revision()
    {
        Operation LeasePut(string key, long revision) =>
            new(0, 0, OpKind.LeasePut, key, 0, 1) { Value = "v" + key, Lease = 9, Succeeded = true, Revision = revision };
        var puts = new[] { LeasePut("l/a", 1), LeasePut("l/b", 2) };
        Assert.Empty(WatchChecker.Check([Log(0, Put(1, "l/a", "vl/a", 1), Put(2, "l/b", "vl/b", 2), Delete(3, "l/a", 3), Delete(3, "l/b", 3))], puts));
        var problems = WatchChecker.Check([Log(0, Put(1, "l/a", "vl/a", 1), Put(2, "l/b", "vl/b", 2), Delete(3, "l/a", 3), Delete(4, "l/b", 4))], puts);
        Assert.Contains(problems, problem => problem.Contains("deleted at 2 revisions", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_put_of_an_acknowledged_txn_is_what_watchers_saw_at_its_revision()
    {
        var txn = new Operation(0, 0, OpKind.Txn, "g/a", 0, 1)
        {
            Succeeded = true, Revision = 2, Writes = [new("g/a", "1"), new("g/b", "1")],
        };
        Assert.Empty(WatchChecker.Check([Log(0, Put(1, "x", "0", 1), Put(2, "g/a", "1", 2), Put(2, "g/b", "1", 2))], [txn]));
        // A watcher that saw only half of it missed the other half.
        Assert.Contains(WatchChecker.Check([Log(0, Put(1, "x", "0", 1), Put(2, "g/a", "1", 2), Put(3, "x", "3", 3))], [txn]),
            problem => problem.Contains("missed 1 change(s), first put g/b=1 @2", StringComparison.Ordinal));
    }
}
