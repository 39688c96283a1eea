using System.Text;

namespace HttpKv.Raft.Tests;

/// <summary>The simulation's invariants (checked after every step) and its liveness check.</summary>
internal sealed partial class Simulation
{
    private void CheckInvariants()
    {
        foreach (var node in Live())
        {
            var status = node.Raw!.Status;
            highestCommit = Math.Max(highestCommit, status.Commit);
            if (status.Role != RaftRole.Leader) continue;
            CheckElectionSafety(node, status);
            CheckLeaderAppendOnly(node, status);
            CheckLeaderCompleteness(node, status);
        }
    }

    /// <summary>At most one leader per term.</summary>
    private void CheckElectionSafety(SimNode node, RaftStatus status)
    {
        if (leaderOfTerm.TryGetValue(status.Term, out var leader))
            Check(leader == node.Id, $"two leaders in term {status.Term}: {leader} and {node.Id}");
        else
        {
            leaderOfTerm[status.Term] = node.Id;
            Stats.Leaders++;
            Log($"node {node.Id} leads term {status.Term}");
        }
    }

    /// <summary>A leader never shortens its log while it leads (its entries are checked by LogMatching).</summary>
    private void CheckLeaderAppendOnly(SimNode node, RaftStatus status)
    {
        var last = node.Storage.LastIndex();
        if (leaderLastIndex.TryGetValue((node.Id, status.Term), out var previous))
            Check(last >= previous, $"leader {node.Id} of term {status.Term} shrank its log from {previous} to {last}");
        leaderLastIndex[(node.Id, status.Term)] = last;
    }

    /// <summary>An entry committed by term t is in the log of every leader of a term ≥ t.</summary>
    private void CheckLeaderCompleteness(SimNode node, RaftStatus status)
    {
        var storage = node.Storage;
        foreach (var (index, commitTerm) in commitTermOf)
        {
            if (commitTerm > status.Term || index < storage.FirstIndex()) continue;
            Check(index <= storage.LastIndex(), $"leader {node.Id} (term {status.Term}) lacks committed entry {index}");
            Check(storage.Term(index) == appliedAt[index].Term,
                $"leader {node.Id} (term {status.Term}) has term {storage.Term(index)} at committed index {index}, committed term {appliedAt[index].Term}");
        }
    }

    /// <summary>Log matching, inductively: an (index, term) always carries the same data and follows the same term.</summary>
    private void CheckPersistedEntries(SimNode node, IReadOnlyList<Entry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.Index < node.Storage.FirstIndex()) continue;
            var previousTerm = entry.Index - 1 >= node.Storage.FirstIndex() - 1 ? node.Storage.Term(entry.Index - 1) : ulong.MaxValue;
            var data = Encoding.UTF8.GetString(entry.Data.Span);
            var key = (entry.Index, entry.Term);
            if (entryAt.TryGetValue(key, out var known))
            {
                Check(known.Data == data, $"node {node.Id} has different data at {entry.Index}/{entry.Term}");
                Check(known.PreviousTerm == ulong.MaxValue || previousTerm == ulong.MaxValue || known.PreviousTerm == previousTerm,
                    $"node {node.Id}: entry {entry.Index}/{entry.Term} follows term {previousTerm}, elsewhere term {known.PreviousTerm}");
            }
            else
            {
                entryAt[key] = (data, previousTerm);
            }
        }
    }

    /// <summary>Log matching, directly: if two logs hold an entry with the same index and term, they are
    /// identical up to it (over the part both still hold).</summary>
    private void CheckLogMatchingFully()
    {
        var all = nodes.Values.ToArray();
        for (var a = 0; a < all.Length; a++)
            for (var b = a + 1; b < all.Length; b++) CheckLogMatching(all[a].Storage, all[b].Storage, all[a].Id, all[b].Id);
    }

    private static void CheckLogMatching(MemoryStorage x, MemoryStorage y, ulong xId, ulong yId)
    {
        var low = Math.Max(x.FirstIndex(), y.FirstIndex());
        var high = Math.Min(x.LastIndex(), y.LastIndex());
        if (low > high) return;
        var xs = x.Entries(low, high + 1, ulong.MaxValue);
        var ys = y.Entries(low, high + 1, ulong.MaxValue);
        var lastSame = -1;
        for (var i = xs.Count - 1; i >= 0; i--)
        {
            if (xs[i].Term != ys[i].Term) continue;
            lastSame = i;
            break;
        }
        for (var i = 0; i <= lastSame; i++)
        {
            Check(xs[i].Term == ys[i].Term && xs[i].Data.Span.SequenceEqual(ys[i].Data.Span),
                $"logs of {xId} and {yId} agree at {xs[lastSame].Index} but differ at {xs[i].Index}");
        }
    }

    /// <summary>After a restart, the entries a node had persisted as committed are the ones the cluster applied.</summary>
    private void CheckPersistedCommitted(SimNode node)
    {
        var storage = node.Storage;
        var commit = storage.HardState.Commit;
        for (var index = storage.FirstIndex(); index <= commit; index++)
        {
            Check(index <= storage.LastIndex(), $"node {node.Id} persisted commit {commit} beyond its log {storage.LastIndex()}");
            if (appliedAt.TryGetValue(index, out var applied))
                Check(applied.Term == storage.Term(index), $"node {node.Id} lost committed entry {index} across a restart");
        }
    }

    // ---- liveness ----

    /// <summary>Heal everything, restart every node: a leader must be elected and commit a final proposal
    /// on every member of its configuration.</summary>
    private void CheckLiveness()
    {
        chaos = false;
        blocked.Clear();
        foreach (var node in nodes.Values.Where(n => n.Raw is null)) Start(node);
        Log("liveness: healed, all nodes running");
        var final = $"final-{seed}";
        ulong finalIndex = 0;
        for (var step = 0; step < LivenessSteps; step++, StepNumber++)
        {
            now++;
            DeliverDue();
            foreach (var node in Live()) node.Raw!.Tick();
            var leader = Leader();
            if (leader is not null && step % 20 == 10 && finalIndex == 0) TryProposeFinal(leader, final);
            ProcessAllReadies();
            CheckInvariants();
            finalIndex = appliedAt.Where(a => a.Value.Data == final).Select(a => a.Key).FirstOrDefault();
            if (finalIndex != 0 && leader is not null && AllMembersApplied(leader, finalIndex)) return;
        }
        throw new InvalidOperationException($"liveness: no leader committed '{final}' on all members within {LivenessSteps} steps " +
            $"(final at {finalIndex}; {string.Join("; ", nodes.Values.Select(n => $"{n.Id}: {n.Raw!.Status.Role} term {n.Raw.Status.Term} lead {n.Raw.Status.Lead} applied {n.AppliedIndex} {n.ConfState}"))})");
    }

    private void TryProposeFinal(SimNode leader, string final)
    {
        try
        {
            leader.Raw!.Propose(Encoding.UTF8.GetBytes(final));
            Log($"propose {final} at {leader.Id}");
        }
        catch (ProposalDroppedException)
        {
        }
    }

    private bool AllMembersApplied(SimNode leader, ulong index)
    {
        var conf = leader.Raw!.Status.ConfState;
        return conf.Voters.Concat(conf.Learners).All(id => nodes[id].AppliedIndex >= index);
    }
}
