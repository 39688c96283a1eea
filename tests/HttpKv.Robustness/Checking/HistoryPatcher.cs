using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Checking;

/// <summary>What <see cref="HistoryPatcher.Patch"/> did with the unknown writes.</summary>
public readonly record struct PatchCounts(int Resolved, int Dropped, int Left);

/// <summary>Settles writes whose answer never came with what the watchers saw, as etcd's robustness tests patch their
/// histories before checking them. Every written value is unique, so an unknown put, compare-and-swap, leased put or
/// multi-key txn whose value a watcher received did take effect, at that event's revision and before the first watcher
/// received it: it becomes a known success returning then. One whose value no watcher received, although the watchers
/// together saw every revision from before its call to their last one, never took effect and is left out — assuming a
/// write takes effect within <see cref="Settle"/> of its call or never (faults last seconds, a healed cluster commits or
/// drops what it holds within an election). An unknown write left pending forever is what makes the search explode on
/// long runs: each can be placed anywhere after its call.</summary>
public static class HistoryPatcher
{
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);

    public static IReadOnlyList<Operation> Patch(IReadOnlyList<Operation> operations, IReadOnlyCollection<WatchLog> watches, out PatchCounts counts)
    {
        ArgumentNullException.ThrowIfNull(operations);
        ArgumentNullException.ThrowIfNull(watches);
        var firstSeen = new Dictionary<(string Key, string Value), (long Revision, long At)>();
        var received = new List<(long At, long Revision)>();
        long lastCovered = 0;
        foreach (var log in watches)
        {
            lock (log.Events)
            {
                foreach (var seen in log.Events)
                {
                    received.Add((seen.At, seen.Revision));
                    if (seen.IsDelete || seen.Value is null) continue;
                    var key = (seen.Key, seen.Value);
                    if (!firstSeen.TryGetValue(key, out var known) || seen.At < known.At) firstSeen[key] = (seen.Revision, seen.At);
                }
                if (log.Events.Count > 0) lastCovered = Math.Max(lastCovered, log.Events[^1].Revision);
            }
        }
        received.Sort();
        var coverage = Coverage(watches, lastCovered);
        var receipts = new Receipts(received);
        var lastCoveredAt = received.Where(r => r.Revision == lastCovered).Select(r => r.At).DefaultIfEmpty(long.MaxValue).Min();

        var patched = new List<Operation>(operations.Count);
        int resolved = 0, dropped = 0, left = 0;
        foreach (var op in operations)
        {
            var writes = op.Unknown ? WrittenValues(op) : [];
            if (writes.Count == 0)
            {
                if (op.Unknown) left++;
                patched.Add(op);
                continue;
            }
            var sightings = writes.Select(write => firstSeen.TryGetValue(write, out var at) ? at : ((long Revision, long At)?)null).ToList();
            if (sightings.FirstOrDefault(s => s is not null) is { } sighting)
            {
                resolved++;
                var at = sightings.Where(s => s is not null).Min(s => s!.Value.At);
                patched.Add(op with { Unknown = false, Succeeded = true, Revision = sighting.Revision, Return = Math.Max(op.Call, at) });
                continue;
            }
            if (op.Call <= lastCoveredAt - (long)Settle.TotalMicroseconds && coverage.Whole(receipts.Before(op.Call) + 1, lastCovered))
            {
                dropped++;
                continue;
            }
            left++;
            patched.Add(op);
        }
        counts = new PatchCounts(resolved, dropped, left);
        return patched;
    }

    /// <summary>The (key, value) pairs an unknown write would have written: unique values, so each names its write.</summary>
    private static List<(string Key, string Value)> WrittenValues(Operation op) => op.Kind switch
    {
        OpKind.Put or OpKind.CompareAndSwap or OpKind.LeasePut when op.Value is not null => [(op.Key, op.Value)],
        OpKind.Txn => [.. (op.Writes ?? []).Where(write => write.Value is not null).Select(write => (write.Key, write.Value!))],
        _ => [],
    };

    /// <summary>The highest revision any watcher had received by a time: a binary search over receipts in time order.</summary>
    private sealed class Receipts
    {
        private readonly long[] times;
        private readonly long[] highest;

        public Receipts(List<(long At, long Revision)> inTimeOrder)
        {
            times = [.. inTimeOrder.Select(r => r.At)];
            highest = new long[times.Length];
            for (var i = 0; i < highest.Length; i++) highest[i] = Math.Max(i > 0 ? highest[i - 1] : 0, inTimeOrder[i].Revision);
        }

        public long Before(long time)
        {
            var index = Array.BinarySearch(times, time);
            if (index < 0) index = ~index - 1;
            else while (index + 1 < times.Length && times[index + 1] == time) index++;
            return index < 0 ? 0 : highest[index];
        }
    }

    /// <summary>Which revisions up to <paramref name="last"/> at least one watcher saw whole: from its start to its last
    /// event, outside the ranges it was told were compacted.</summary>
    private static RevisionCoverage Coverage(IEnumerable<WatchLog> watches, long last)
    {
        var covered = new bool[last + 2];
        foreach (var log in watches)
        {
            long end;
            List<(long From, long To)> gaps;
            lock (log.Events)
            {
                if (log.Events.Count == 0) continue;
                end = log.Events[^1].Revision;
                gaps = [.. log.CompactedGaps];
            }
            var mine = new bool[covered.Length];
            for (var revision = Math.Max(1, log.StartRevision); revision <= end; revision++) mine[revision] = true;
            foreach (var (from, to) in gaps)
                for (var revision = Math.Max(0, from); revision <= Math.Min(to, end); revision++) mine[revision] = false;
            for (var revision = 0; revision < covered.Length; revision++) covered[revision] |= mine[revision];
        }
        return new RevisionCoverage(covered);
    }

    private sealed class RevisionCoverage(bool[] covered)
    {
        /// <summary>The first revision at or after each that no watcher saw.</summary>
        private readonly long[] nextHole = NextHoles(covered);

        private static long[] NextHoles(bool[] covered)
        {
            var next = new long[covered.Length + 1];
            next[covered.Length] = covered.Length;
            for (var revision = covered.Length - 1; revision >= 0; revision--) next[revision] = covered[revision] ? next[revision + 1] : revision;
            return next;
        }

        public bool Whole(long from, long to) => from > to || from >= 0 && from < nextHole.Length && nextHole[from] > to;
    }
}
