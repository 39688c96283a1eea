using HttpKv.Robustness.Checking;
using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Tests;

/// <summary>Unknown writes settled by what the watchers saw: resolved when a watcher received the value, left out when
/// the watchers saw every revision after the call long enough without it, left unknown otherwise.</summary>
public sealed class HistoryPatcherTests
{
    private static readonly long Second = 1_000_000;

    private static Operation UnknownPut(int id, string value, long call) =>
        new(id, 0, OpKind.Put, "k/0", call, long.MaxValue) { Value = value, Unknown = true };

    /// <summary>A watcher that received revisions 2..last, one a second from t = 1 s, each a put of v{revision} on k/1 unless given.</summary>
    private static WatchLog Watcher(long last, params (long Revision, string Key, string Value)[] overrides)
    {
        var log = new WatchLog(0, "m1", 1);
        for (var revision = 2L; revision <= last; revision++)
        {
            var (key, value) = overrides.Where(o => o.Revision == revision).Select(o => (o.Key, o.Value)).DefaultIfEmpty(("k/1", $"v{revision}")).First();
            log.Events.Add(new SeenEvent(revision, key, false, value, At: (revision - 1) * Second));
        }
        return log;
    }

    [Fact]
    public void An_unknown_write_a_watcher_saw_took_effect_at_its_revision_before_it_was_seen()
    {
        var history = Patch([UnknownPut(1, "x", 2 * Second)], [Watcher(60, (5, "k/0", "x"))], out var counts);

        var put = Assert.Single(history);
        Assert.False(put.Unknown);
        Assert.True(put.Succeeded);
        Assert.Equal(5, put.Revision);
        Assert.Equal(4 * Second, put.Return);
        Assert.Equal(new PatchCounts(1, 0, 0), counts);
    }

    [Fact]
    public void An_unknown_write_no_watcher_saw_in_a_whole_stream_long_after_its_call_never_happened()
    {
        var history = Patch([UnknownPut(1, "x", 2 * Second)], [Watcher(60)], out var counts);

        Assert.Empty(history);
        Assert.Equal(new PatchCounts(0, 1, 0), counts);
    }

    [Fact]
    public void An_unknown_write_stays_unknown_when_the_watchers_missed_revisions_after_its_call_or_stopped_soon_after()
    {
        var gap = Watcher(60);
        gap.CompactedGaps.Add((20, 25));
        Assert.True(Assert.Single(Patch([UnknownPut(1, "x", 2 * Second)], [gap], out _)).Unknown);
        // Another watcher that saw the gap's revisions closes it.
        Assert.Empty(Patch([UnknownPut(1, "x", 2 * Second)], [gap, Watcher(60)], out _));
        // Called less than the settling time before the watchers' last revision: it may yet take effect.
        Assert.True(Assert.Single(Patch([UnknownPut(1, "x", 40 * Second)], [Watcher(60)], out _)).Unknown);
    }

    [Fact]
    public void Known_operations_and_unknown_deletes_pass_unchanged()
    {
        var known = new Operation(1, 0, OpKind.Put, "k/0", 0, 10) { Value = "a", Succeeded = true, Revision = 2 };
        var delete = new Operation(2, 0, OpKind.Delete, "k/0", 20, long.MaxValue) { Unknown = true };

        Assert.Equal([known, delete], Patch([known, delete], [Watcher(60)], out var counts));
        Assert.Equal(new PatchCounts(0, 0, 1), counts);
    }

    private static IReadOnlyList<Operation> Patch(Operation[] operations, WatchLog[] watches, out PatchCounts counts) =>
        HistoryPatcher.Patch(operations, watches, out counts);
}
