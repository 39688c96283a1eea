using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Checking;

/// <summary>Checks what watchers received against each other and against the acknowledged writes:
/// <list type="bullet">
/// <item>ordered: each watcher's events in revision order (by key within a revision), none twice;</item>
/// <item>agreed: every watcher saw the same change at each (revision, key), and acknowledged writes (puts, deletes,
/// swaps, every put of a multi-key txn, leased puts) are what watchers saw at the revision the client was told;</item>
/// <item>none missed: between its start and the last revision it saw, no change another watcher saw or a client
/// was told succeeded is missing — except in ranges compacted before it resumed, which etcd reports instead;</item>
/// <item>atomic: all the events of one revision came in one WatchResponse;</item>
/// <item>resumable: after a reconnection at revision N, the first event is at N or later and nothing at N or later
/// and before it is missing (a duplicate or a gap at the resume point);</item>
/// <item>progress: after a progress notification at revision P, no event at or below P arrives on that watcher;</item>
/// <item>a revoke deletes all its lease's keys at one revision: every delete of keys that were put with the same
/// lease is at one revision (the workload deletes leased keys only by revoking their lease);</item>
/// <item>gapless: every revision came, one by one (the watchers watch every key, and every revision changes one),
/// checked as the events arrived (<see cref="WatchLog.Gaps"/>): even a gap in a member's own data that a later fault
/// wipes away is pinned to that member and moment.</item>
/// </list></summary>
public static class WatchChecker
{
    public static IReadOnlyList<string> Check(IEnumerable<WatchLog> watches, IEnumerable<Operation> operations)
    {
        ArgumentNullException.ThrowIfNull(watches);
        ArgumentNullException.ThrowIfNull(operations);
        var problems = new List<string>();
        var logs = watches.ToList();
        var ops = operations.ToList();
        var known = new Dictionary<(long Revision, string Key), SeenEvent>();
        foreach (var log in logs)
        {
            SeenEvent? previous = null;
            var responseOf = new Dictionary<long, int>();
            foreach (var seen in log.Events)
            {
                if (previous is not null && (seen.Revision < previous.Revision || seen.Revision == previous.Revision && string.CompareOrdinal(seen.Key, previous.Key) <= 0))
                    problems.Add($"watch {log.Id} on {log.Member}: {Describe(seen)} came after {Describe(previous)} (out of order or twice)");
                if (known.TryGetValue((seen.Revision, seen.Key), out var other) && other.Change != seen.Change)
                    problems.Add($"watch {log.Id} on {log.Member}: {Describe(seen)}, but another watcher saw {Describe(other)} at that revision");
                if (responseOf.TryGetValue(seen.Revision, out var response) && response != seen.Response)
                    problems.Add($"watch {log.Id} on {log.Member}: the events of revision {seen.Revision} came in different responses ({response} and {seen.Response}): not atomic");
                responseOf.TryAdd(seen.Revision, seen.Response);
                known.TryAdd((seen.Revision, seen.Key), seen);
                previous = seen;
            }
        }
        foreach (var op in ops.Where(op => !op.Unknown && op.Succeeded))
        {
            IEnumerable<SeenEvent> writes = op.Kind switch
            {
                OpKind.Put or OpKind.CompareAndSwap or OpKind.LeasePut => [new SeenEvent(op.Revision, op.Key, false, op.Value)],
                OpKind.Delete => [new SeenEvent(op.Revision, op.Key, true, null)],
                OpKind.Txn => op.Writes!.Select(write => new SeenEvent(op.Revision, write.Key, write.Value is null, write.Value)),
                _ => [],
            };
            foreach (var expected in writes)
            {
                if (known.TryGetValue((op.Revision, expected.Key), out var seen) && seen.Change != expected.Change)
                    problems.Add($"{op} was acknowledged, but watchers saw {Describe(seen)} at revision {op.Revision}");
                known.TryAdd((op.Revision, expected.Key), expected);
            }
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
        var byRevision = known.Values.OrderBy(change => change.Revision).ThenBy(change => change.Key, StringComparer.Ordinal).ToList();
        foreach (var log in logs) problems.AddRange(CheckResumes(log, byRevision));
        foreach (var log in logs) problems.AddRange(CheckProgress(log));
        foreach (var log in logs) problems.AddRange(log.Gaps.Select(gap => $"watch {log.Id} (from {log.StartRevision}): {gap}"));
        problems.AddRange(CheckRevokes(known.Values, ops));
        return problems;
    }

    /// <summary>After each reconnection at revision N the watcher must go on exactly at N: nothing older again, and no
    /// change at N or later skipped before the first event it got (compacted ranges apart).</summary>
    private static IEnumerable<string> CheckResumes(WatchLog log, List<SeenEvent> byRevision)
    {
        var revisions = byRevision.Select(change => change.Revision).ToArray();
        foreach (var (after, revision) in log.Resumes)
        {
            if (after >= log.Events.Count) continue;
            var first = log.Events[after];
            if (first.Revision < revision)
            {
                yield return $"watch {log.Id} on {log.Member}: resumed at revision {revision} but then got {Describe(first)} (a duplicate at the resume point)";
                continue;
            }
            var from = Array.BinarySearch(revisions, revision);
            if (from < 0) from = ~from;
            while (from > 0 && revisions[from - 1] == revision) from--;
            var skipped = byRevision.Skip(from).TakeWhile(change => change.Revision < first.Revision)
                .FirstOrDefault(change => !log.CompactedGaps.Any(gap => change.Revision >= gap.From && change.Revision <= gap.To));
            if (skipped is not null)
                yield return $"watch {log.Id} on {log.Member}: resumed at revision {revision}, first got {Describe(first)} but {Describe(skipped)} came before it (a gap at the resume point)";
        }
    }

    /// <summary>A progress notification at P says the watcher has been sent everything through P.</summary>
    private static IEnumerable<string> CheckProgress(WatchLog log)
    {
        var lowestFrom = new long[log.Events.Count + 1]; // the lowest revision among the events from i on
        lowestFrom[log.Events.Count] = long.MaxValue;
        for (var i = log.Events.Count - 1; i >= 0; i--) lowestFrom[i] = Math.Min(lowestFrom[i + 1], log.Events[i].Revision);
        foreach (var (after, revision) in log.Progress)
        {
            if (lowestFrom[after] > revision) continue;
            var late = log.Events.Skip(after).First(seen => seen.Revision <= revision);
            yield return $"watch {log.Id} on {log.Member}: a progress notification at revision {revision} came before {Describe(late)}: ahead of the data";
        }
    }

    private static IEnumerable<string> CheckRevokes(IEnumerable<SeenEvent> changes, List<Operation> ops)
    {
        var leaseOf = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var op in ops.Where(op => op.Kind == OpKind.LeasePut)) leaseOf.TryAdd(op.Key, op.Lease);
        foreach (var lease in changes.Where(change => change.IsDelete && leaseOf.ContainsKey(change.Key))
                     .GroupBy(change => leaseOf[change.Key]))
        {
            var revisions = lease.Select(change => change.Revision).Distinct().Order().ToList();
            if (revisions.Count > 1)
                yield return $"the keys of lease {lease.Key:x} were deleted at {revisions.Count} revisions ({string.Join(", ", lease.OrderBy(c => c.Revision).Select(Describe))}): a revoke deletes them at one";
        }
    }

    internal static string Describe(SeenEvent seen) =>
        $"{(seen.IsDelete ? "delete" : "put")} {seen.Key}{(seen.IsDelete ? "" : "=" + seen.Value)} @{seen.Revision}";
}
