using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Checking;

/// <summary>Checks what watchers received against each other and against the acknowledged writes: each watcher's
/// events in revision order with none twice; every watcher agrees on what happened at each revision; and none
/// missed, between its start revision and the last revision it saw, a change that another watcher saw or that a
/// client was told succeeded — except in ranges compacted before it resumed, which etcd reports instead.</summary>
public static class WatchChecker
{
    public static IReadOnlyList<string> Check(IEnumerable<WatchLog> watches, IEnumerable<Operation> operations)
    {
        var problems = new List<string>();
        var logs = watches.ToList();
        var known = new Dictionary<(long Revision, string Key), SeenEvent>();
        foreach (var log in logs)
        {
            SeenEvent? previous = null;
            foreach (var seen in log.Events)
            {
                if (previous is not null && (seen.Revision < previous.Revision || seen.Revision == previous.Revision && string.CompareOrdinal(seen.Key, previous.Key) <= 0))
                    problems.Add($"watch {log.Id} on {log.Member}: {Describe(seen)} came after {Describe(previous)} (out of order or twice)");
                if (known.TryGetValue((seen.Revision, seen.Key), out var other) && other != seen)
                    problems.Add($"watch {log.Id} on {log.Member}: {Describe(seen)}, but another watcher saw {Describe(other)} at that revision");
                known.TryAdd((seen.Revision, seen.Key), seen);
                previous = seen;
            }
        }
        foreach (var op in operations.Where(op => !op.Unknown && op.Succeeded && op.Kind != OpKind.Get))
        {
            var expected = new SeenEvent(op.Revision, op.Key, op.Kind == OpKind.Delete, op.Kind == OpKind.Delete ? null : op.Value);
            if (known.TryGetValue((op.Revision, op.Key), out var seen) && seen != expected)
                problems.Add($"{op} was acknowledged, but watchers saw {Describe(seen)} at revision {op.Revision}");
            known.TryAdd((op.Revision, op.Key), expected);
        }
        foreach (var log in logs.Where(log => log.Events.Count > 0))
        {
            var last = log.Events[^1].Revision;
            var mine = log.Events.Select(seen => (seen.Revision, seen.Key)).ToHashSet();
            var missed = known.Keys.Where(change => change.Revision >= log.StartRevision && change.Revision <= last && !mine.Contains(change)
                    && !log.CompactedGaps.Any(gap => change.Revision >= gap.From && change.Revision <= gap.To))
                .OrderBy(change => change.Revision).ToList();
            if (missed.Count > 0)
                problems.Add($"watch {log.Id} on {log.Member} (from {log.StartRevision}, last saw {last}) missed {missed.Count} change(s), first {Describe(known[missed[0]])}");
        }
        return problems;
    }

    private static string Describe(SeenEvent seen) =>
        $"{(seen.IsDelete ? "delete" : "put")} {seen.Key}{(seen.IsDelete ? "" : "=" + seen.Value)} @{seen.Revision}";
}
