using System.Buffers.Binary;
using System.Text;

namespace HttpKv.Raft.Tests;

/// <summary>The simulation's network, membership changes and the Ready loop of each node.</summary>
internal sealed partial class Simulation
{
    private void ChangeMembership()
    {
        var leader = Leader();
        if (leader is null) return;
        var conf = leader.Raw!.Status.ConfState;
        var roll = random.Next(3);
        ConfChange change;
        if (roll == 0 && nodes.Count < MaxNodes)
        {
            var id = nextNodeId++;
            var node = new SimNode(id, new MemoryStorage());
            nodes[id] = node;
            Start(node);
            change = new ConfChange(ConfChangeType.AddLearnerNode, id, default);
        }
        else if (roll == 1 && conf.Learners.Count > 0)
        {
            change = new ConfChange(ConfChangeType.AddNode, conf.Learners[random.Next(conf.Learners.Count)], default);
        }
        else if (roll == 2 && conf.Voters.Count > 3)
        {
            change = new ConfChange(ConfChangeType.RemoveNode, conf.Voters[random.Next(conf.Voters.Count)], default);
        }
        else return;
        try
        {
            leader.Raw.ProposeConfChange(change);
            Log($"conf change at {leader.Id}: {change.Type} {change.NodeId}");
        }
        catch (ProposalDroppedException)
        {
            Log($"conf change at {leader.Id}: {change.Type} {change.NodeId} dropped");
        }
    }

    // ---- network ----

    private void Send(Message message)
    {
        if (chaos && (blocked.Contains((message.From, message.To)) || random.NextDouble() < dropRate))
        {
            Log($"drop {message}");
            NotifyLost(message);
            return;
        }
        var copies = chaos && random.NextDouble() < duplicateRate ? 2 : 1;
        for (var i = 0; i < copies; i++)
            network.Add(new InFlight(Message.Decode(message.Encode()), now + 1 + random.Next(chaos ? maxDelay : 1)));
    }

    private void NotifyLost(Message message)
    {
        if (!nodes.TryGetValue(message.From, out var sender) || sender.Raw is null) return;
        if (message.Type == MessageType.Snapshot) sender.Raw.ReportSnapshot(message.To, succeeded: false);
        else if (random.Next(4) == 0) sender.Raw.ReportUnreachable(message.To);
    }

    private void DeliverDue()
    {
        var due = network.Where(f => f.DeliverAt <= now).ToList();
        network.RemoveAll(f => f.DeliverAt <= now);
        // Messages due together arrive in a random order.
        for (var i = due.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (due[i], due[j]) = (due[j], due[i]);
        }
        foreach (var inFlight in due) Deliver(inFlight.Message);
    }

    private void Deliver(Message message)
    {
        if (chaos && blocked.Contains((message.From, message.To)))
        {
            NotifyLost(message);
            return;
        }
        if (!nodes.TryGetValue(message.To, out var target) || target.Raw is null)
        {
            Log($"lost (target down) {message}");
            NotifyLost(message); // the transport would see the connection fail
            return;
        }
        Log($"deliver {message}");
        target.Raw.Step(message);
        if (message.Type == MessageType.Snapshot && nodes.TryGetValue(message.From, out var sender) && sender.Raw is not null)
            sender.Raw.ReportSnapshot(message.To, succeeded: true);
    }

    // ---- the Ready loop: persist, send, apply, advance ----

    private void ProcessAllReadies()
    {
        for (var round = 0; round < 10; round++)
        {
            var any = false;
            foreach (var node in Live())
            {
                if (node.Raw!.HasReady())
                {
                    ProcessReady(node, node.Raw.GetReady());
                    any = true;
                }
            }
            if (!any) return;
        }
    }

    private void ProcessReady(SimNode node, Ready ready)
    {
        var raw = node.Raw!;
        if (ready.Snapshot is not null) node.Storage.ApplySnapshot(ready.Snapshot);
        node.Storage.Append(ready.Entries);
        if (ready.HardState is { } hardState) node.Storage.SetHardState(hardState);
        CheckPersistedEntries(node, ready.Entries);
        foreach (var message in ready.Messages) Send(message);
        if (ready.Snapshot is not null) ApplySnapshot(node, ready.Snapshot);
        foreach (var entry in ready.CommittedEntries) Apply(node, entry);
        foreach (var read in ready.ReadStates) CheckRead(node, read);
        raw.Advance(ready);
    }

    private void ApplySnapshot(SimNode node, Snapshot snapshot)
    {
        RestoreStateMachine(node, snapshot);
        var index = snapshot.Metadata.Index;
        if (stateHashAt.TryGetValue(index, out var hash))
            Check(hash == node.StateHash, $"node {node.Id} restored a snapshot at {index} whose state differs from what others applied");
        Stats.SnapshotsApplied++;
        Log($"node {node.Id} applied snapshot at {index}");
    }

    private void Apply(SimNode node, Entry entry)
    {
        Check(entry.Index == node.AppliedIndex + 1, $"node {node.Id} applies {entry.Index} after {node.AppliedIndex}");
        var data = entry.Type == EntryType.ConfChange ? "cc:" + Convert.ToHexString(entry.Data.Span) : Encoding.UTF8.GetString(entry.Data.Span);
        if (appliedAt.TryGetValue(entry.Index, out var first))
            Check(first == (entry.Term, data), $"node {node.Id} applied {entry.Term}/{data} at {entry.Index}, another node {first.Term}/{first.Data}");
        else
        {
            appliedAt[entry.Index] = (entry.Term, data);
            Stats.EntriesCommitted++;
            if (entry.Type == EntryType.ConfChange) Stats.ConfChangesCommitted++;
        }
        commitTermOf.TryAdd(entry.Index, node.Raw!.Status.Term);
        node.AppliedIndex = entry.Index;
        node.StateHash = NextHash(node.StateHash, entry.Index, data);
        if (stateHashAt.TryGetValue(entry.Index, out var hash))
            Check(hash == node.StateHash, $"node {node.Id} state at {entry.Index} differs");
        else
            stateHashAt[entry.Index] = node.StateHash;
        if (entry.Type == EntryType.ConfChange)
        {
            node.ConfState = node.Raw.ApplyConfChange(ConfChange.Decode(entry.Data.Span));
            Log($"node {node.Id} applied conf change at {entry.Index}: {node.ConfState}");
        }
    }

    /// <summary>The state machine is a running FNV-1a hash over (index, data) of every applied entry.</summary>
    private static ulong NextHash(ulong hash, ulong index, string data)
    {
        unchecked
        {
            hash = (hash ^ index) * 1099511628211UL;
            foreach (var b in Encoding.UTF8.GetBytes(data)) hash = (hash ^ b) * 1099511628211UL;
            return hash;
        }
    }

    private void CheckRead(SimNode node, ReadState read)
    {
        var context = Encoding.UTF8.GetString(read.RequestContext.Span);
        Check(readIssuedAt.TryGetValue(context, out var minimum), $"node {node.Id} got an answer to unknown read {context}");
        // Linearizable: the read index covers everything committed before the read was issued.
        Check(read.Index >= minimum, $"read {context} at {node.Id} got index {read.Index} < {minimum} committed before it was issued");
        Stats.ReadsAnswered++;
        Log($"read {context} at {node.Id} -> {read.Index}");
    }
}
