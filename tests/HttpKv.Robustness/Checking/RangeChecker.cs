using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Checking;

/// <summary>Checks multi-key reads against the revisions the watchers recorded. The watchers see every revision of the
/// workload's prefix outside the compaction gaps etcd reported to them, so together they reconstruct the store's
/// state at any revision they covered. Then:
/// <list type="bullet">
/// <item>every range over the prefix (linearizable or serializable) returned exactly the state at its header
/// revision: the same keys, each with the value and mod_revision of its last change at or before that revision
/// (keys that may have changed in a revision no watcher saw are left out, and ranges past the watchers' last
/// revision are not judged);</item>
/// <item>a linearizable range is not older than any acknowledged operation that returned before it was invoked (its
/// header revision is at least theirs);</item>
/// <item>serializable ranges of one client on one member never go back in revision;</item>
/// <item>a watch event's prev_kv, when given, is the key's state just before the event's revision.</item>
/// </list></summary>
public static class RangeChecker
{
    public static IReadOnlyList<string> Check(IEnumerable<WatchLog> watches, IEnumerable<RangeRead> ranges, IEnumerable<Operation> operations) =>
        Check(watches, ranges, operations, out _);

    /// <param name="judged">how many ranges the reconstruction could judge.</param>
    public static IReadOnlyList<string> Check(IEnumerable<WatchLog> watches, IEnumerable<RangeRead> ranges, IEnumerable<Operation> operations, out int judged)
    {
        ArgumentNullException.ThrowIfNull(watches);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentNullException.ThrowIfNull(operations);
        var logs = watches.ToList();
        var reads = ranges.ToList();
        var problems = new List<string>();
        problems.AddRange(CheckSnapshots(logs, reads, out judged));
        problems.AddRange(CheckFreshness(reads, operations));
        problems.AddRange(CheckMonotonic(reads));
        return problems;
    }

    /// <summary>The revisions no watcher covered (from 1 through the last covered one), as sorted intervals.</summary>
    internal static (List<(long From, long To)> Holes, long Covered) Coverage(IReadOnlyList<WatchLog> logs)
    {
        var covered = new List<(long From, long To)>();
        foreach (var log in logs)
        {
            var end = Math.Max(log.Events.Count > 0 ? log.Events[^1].Revision : 0, log.Progress.Count > 0 ? log.Progress.Max(p => p.Revision) : 0);
            var from = log.StartRevision;
            foreach (var gap in log.CompactedGaps.OrderBy(gap => gap.From))
            {
                if (gap.From > from) covered.Add((from, Math.Min(gap.From - 1, end)));
                from = Math.Max(from, gap.To + 1);
            }
            if (from <= end) covered.Add((from, end));
        }
        var holes = new List<(long From, long To)>();
        long through = 0; // every revision up to here is covered (or a hole already listed)
        foreach (var (from, to) in covered.Where(c => c.From <= c.To).OrderBy(c => c.From))
        {
            if (from > through + 1) holes.Add((through + 1, from - 1));
            through = Math.Max(through, to);
        }
        return (holes, through);
    }

    private static IEnumerable<string> CheckSnapshots(IReadOnlyList<WatchLog> logs, List<RangeRead> reads, out int judged)
    {
        var problems = new List<string>();
        var (holes, covered) = Coverage(logs);
        var changes = new SortedDictionary<long, Dictionary<string, SeenEvent>>();
        var prevs = new List<(SeenEvent Event, WatchLog Log)>();
        foreach (var log in logs)
        {
            foreach (var seen in log.Events)
            {
                if (!changes.TryGetValue(seen.Revision, out var atRevision)) changes[seen.Revision] = atRevision = new Dictionary<string, SeenEvent>(StringComparer.Ordinal);
                atRevision.TryAdd(seen.Key, seen);
                if (seen.PrevValue is not null) prevs.Add((seen, log));
            }
        }
        var prevsAt = prevs.ToLookup(prev => prev.Event.Revision);
        var present = new Dictionary<string, (string Value, long ModRevision)>(StringComparer.Ordinal);
        var lastChange = new Dictionary<string, long>(StringComparer.Ordinal);
        // The last revision at or before `revision` that no watcher saw (0: none): a key whose last change is not after
        // it may have changed unseen.
        long UnknownThrough(long revision) => holes.Where(hole => hole.From <= revision).Select(hole => Math.Min(hole.To, revision)).DefaultIfEmpty(0).Max();
        bool Known(string key, long unknownThrough) => lastChange.TryGetValue(key, out var at) ? at > unknownThrough : unknownThrough == 0;

        var ordered = changes.ToList();
        var cursor = 0;
        void ApplyThrough(long revision)
        {
            for (; cursor < ordered.Count && ordered[cursor].Key <= revision; cursor++)
            {
                var (at, events) = ordered[cursor];
                var unknownBefore = UnknownThrough(at - 1);
                foreach (var (seen, log) in prevsAt[at])
                {
                    if (!Known(seen.Key, unknownBefore)) continue;
                    var before = present.TryGetValue(seen.Key, out var kv) ? kv : default;
                    if (before.Value != seen.PrevValue || before.ModRevision != seen.PrevModRevision)
                        problems.Add($"watch {log.Id} on {log.Member}: {WatchChecker.Describe(seen)} came with prev_kv {seen.PrevValue}@{seen.PrevModRevision}, " +
                            $"but the key was {(before.Value is null ? "absent" : $"{before.Value}@{before.ModRevision}")} before it");
                }
                foreach (var seen in events.Values)
                {
                    if (seen.IsDelete) present.Remove(seen.Key);
                    else present[seen.Key] = (seen.Value!, seen.Revision);
                    lastChange[seen.Key] = seen.Revision;
                }
            }
        }

        judged = 0;
        foreach (var read in reads.OrderBy(read => read.Revision))
        {
            if (read.Revision > covered) continue;
            ApplyThrough(read.Revision);
            judged++;
            var unknownThrough = UnknownThrough(read.Revision);
            var wrong = new List<string>();
            foreach (var kv in read.Kvs)
            {
                if (kv.ModRevision > read.Revision) wrong.Add($"{kv.Key}={kv.Value}@{kv.ModRevision} is from after the header revision");
                else if (!Known(kv.Key, unknownThrough)) continue;
                else if (!present.TryGetValue(kv.Key, out var expected)) wrong.Add($"{kv.Key}={kv.Value}@{kv.ModRevision} but the key was absent");
                else if (expected.Value != kv.Value || expected.ModRevision != kv.ModRevision)
                    wrong.Add($"{kv.Key}={kv.Value}@{kv.ModRevision} but it was {expected.Value}@{expected.ModRevision}");
            }
            var returned = read.Kvs.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var (key, expected) in present.Where(pair => !returned.Contains(pair.Key) && Known(pair.Key, unknownThrough)))
                wrong.Add($"{key} missing, it was {expected.Value}@{expected.ModRevision}");
            if (wrong.Count > 0)
                problems.Add($"{read} is not the state at revision {read.Revision}: {string.Join("; ", wrong)}");
        }
        ApplyThrough(covered); // the remaining prev_kvs
        return problems;
    }

    /// <summary>A linearizable read must see every operation acknowledged before it was invoked: its revision is at least
    /// the highest revision those were answered with.</summary>
    private static IEnumerable<string> CheckFreshness(List<RangeRead> reads, IEnumerable<Operation> operations)
    {
        var answered = operations.Where(op => !op.Unknown && op.Revision > 0 && op.Kind is OpKind.Get or OpKind.Put or OpKind.Delete or OpKind.CompareAndSwap
                or OpKind.Txn or OpKind.Range or OpKind.LeasePut)
            .Select(op => (op.Return, op.Revision, What: op.ToString()))
            .Concat(reads.Where(read => !read.Serializable).Select(read => (read.Return, read.Revision, What: read.ToString())))
            .OrderBy(op => op.Return).ToList();
        var returns = answered.Select(op => op.Return).ToArray();
        var highest = new (long Revision, string What)[answered.Count];
        for (var i = 0; i < answered.Count; i++)
            highest[i] = i > 0 && highest[i - 1].Revision >= answered[i].Revision ? highest[i - 1] : (answered[i].Revision, answered[i].What);
        foreach (var read in reads.Where(read => !read.Serializable))
        {
            var index = LowerBound(returns, read.Call) - 1; // the last answer strictly before the call
            if (index >= 0 && highest[index].Revision > read.Revision)
                yield return $"{read} is stale: {highest[index].What} was answered at revision {highest[index].Revision} before it was invoked";
        }
    }

    private static int LowerBound(long[] sorted, long value)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (sorted[middle] < value) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    /// <summary>A member's serializable reads may lag, but one client reading from one member never goes back.</summary>
    private static IEnumerable<string> CheckMonotonic(List<RangeRead> reads)
    {
        foreach (var client in reads.Where(read => read.Serializable).GroupBy(read => (read.Client, read.Endpoint)))
        {
            RangeRead? previous = null;
            foreach (var read in client.OrderBy(read => read.Call))
            {
                if (previous is not null && read.Revision < previous.Revision)
                    yield return $"{read} went back in time after {previous}";
                previous = read;
            }
        }
    }
}
