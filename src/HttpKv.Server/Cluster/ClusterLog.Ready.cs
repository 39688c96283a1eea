using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;
using HttpKv.Server.Apply;
using HttpKv.Storage;
using Microsoft.Extensions.Logging;
using WalSnapshot = HttpKv.Storage.Wal.WalSnapshot;

namespace HttpKv.Server.Cluster;

public sealed partial class ClusterLog
{
    /// <summary>A Ready that takes longer than this holds up ticks and messages: worth a warning.</summary>
    private static readonly TimeSpan SlowReady = TimeSpan.FromSeconds(1);

    private async Task RunLoopAsync()
    {
        var reader = commands.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                for (var handled = 0; handled < MaxCommandsPerRound && reader.TryRead(out var command); handled++) Run(command);
                ProposeQueued();
                while (node.HasReady())
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    await HandleReadyAsync(node.GetReady());
                    var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                    if (took > SlowReady) logger.LogWarning("Handling one Raft Ready took {Milliseconds:0} ms", took.TotalMilliseconds);
                }
            }
        }
        catch (Exception exception) when (exception is ObjectDisposedException && stopped)
        {
            // stopping while a WAL append was in flight
        }
        catch (Exception exception)
        {
            logger.LogCritical(exception, "Raft loop failed; the member cannot continue safely");
            Environment.FailFast("HttpKv raft loop failed: " + exception.Message, exception);
        }
        FailAllWaiters();
    }

    /// <summary>One Ready, in the order its contract demands (see <see cref="Ready"/>).</summary>
    private async Task HandleReadyAsync(Ready ready)
    {
        if (ready.SoftState is { } soft) OnSoftState(soft);
        if (ready.HardState is { } hard)
        {
            Volatile.Write(ref currentTerm, hard.Term);
            Volatile.Write(ref committedIndex, hard.Commit);
        }
        if (ready.Snapshot is { } snapshot) InstallSnapshot(snapshot);
        // A leader sends before its own write, so followers write in parallel with it (Raft thesis §10.2.1, as
        // etcd does): their acknowledgements are stepped only after this write completes (the loop runs one Ready
        // at a time), so no commit ever counts the leader's copy of an entry before it is durable. Everyone else
        // must persist first: a vote or an acknowledgement sent ahead of its state could be lost in a crash.
        var leading = role == RaftRole.Leader;
        if (leading) Send(ready.Messages);
        await PersistAsync(ready);
        if (!leading) Send(ready.Messages);
        if (ready.CommittedEntries.Count > 0)
        {
            Failpoints.Hit("raftBeforeApply");
            Apply(ready.CommittedEntries);
        }
        foreach (var read in ready.ReadStates) readRounds.Complete(this, read.RequestContext.Span, read.Index);
        node.Advance(ready);
        MaybeSnapshot();
    }

    private RaftRole role;

    private void OnSoftState(SoftState soft)
    {
        role = soft.Role;
        var previous = Leader;
        Volatile.Write(ref leader, soft.Leader);
        if (previous == soft.Leader) return;
        if (soft.Leader == options.MemberId)
        {
            Lessor.Promote(ElectionTimeout);
            lastHeartbeat.Clear(); // a new leadership's heartbeats are not late for the previous one's
        }
        else if (previous == options.MemberId) Lessor.Demote();
        if (soft.Leader != 0) Metrics.ServerMetrics.LeaderChanges.Inc();
        if (soft.Leader == 0) logger.LogWarning("Member {MemberId:x16} lost the leader {Leader:x16}", options.MemberId, previous);
        else logger.LogInformation("Member {MemberId:x16} elected leader {Leader:x16} at term {Term}", options.MemberId, soft.Leader, node.Status.Term);
        if (previous != 0) readRounds.Abort(this, EtcdErrors.LeaderChanged.ToException());
    }

    private async Task PersistAsync(Ready ready)
    {
        if (ready.Entries.Count == 0 && ready.HardState is null && ready.Snapshot is null) return;
        WalSnapshot? marker = ready.Snapshot is { } s ? new WalSnapshot(s.Metadata.Index, s.Metadata.Term) : null;
        // The loop resumes on the WAL's writer thread (it is the log's one writer and never blocks on it): no hand-off
        // back through the thread pool between the fdatasync and the apply.
        await wal.AppendOnWriterAsync(marker, ready.Entries, ready.HardState, sync: ready.MustSync);
        if (ready.Snapshot is { } snapshot) storage.ApplySnapshot(snapshot);
        if (ready.Entries.Count > 0) storage.Append(ready.Entries);
        if (ready.HardState is { } state) storage.SetHardState(state);
    }

    private void Send(IReadOnlyList<Message> messages)
    {
        foreach (var message in messages)
        {
            if (message.Type == MessageType.Snapshot) _ = SendSnapshotAsync(message);
            else
            {
                var heartbeat = message.Type == MessageType.Heartbeat;
                var late = heartbeat && LateHeartbeat(message.To);
                var sent = transport.Send(message.To, message.Encode());
                if (late || heartbeat && !sent) Metrics.ServerMetrics.HeartbeatSendFailures.Inc(); // once per heartbeat
                if (!sent) node.ReportUnreachable(message.To);
            }
        }
    }

    /// <summary>When each peer was last sent a heartbeat (a timestamp of the member's clock); the loop's own.</summary>
    private readonly Dictionary<ulong, long> lastHeartbeat = [];

    /// <summary>etcd's timeout detector: a heartbeat to <paramref name="peer"/> more than two heartbeat intervals after
    /// the previous one means the leader could not send on time (a slow disk or an overloaded member, usually).</summary>
    private bool LateHeartbeat(ulong peer)
    {
        var now = options.Clock.GetTimestamp();
        var late = lastHeartbeat.TryGetValue(peer, out var previous)
            && options.Clock.GetElapsedTime(previous, now) > 2 * options.TickInterval;
        lastHeartbeat[peer] = now;
        return late;
    }

    /// <summary>Applies committed entries in one backend transaction, then answers their proposers on this member.</summary>
    private void Apply(IReadOnlyList<Entry> entries)
    {
        var results = new List<(ulong Id, object Result)>(entries.Count);
        IReadOnlyList<Mvccpb.Event> events;
        long revision;
        using (var batch = stores.Current.BeginApply())
        {
            batch.Leases = Lessor;
            foreach (var entry in entries)
            {
                if (entry.Index <= batch.ConsistentIndex) continue; // the backend has it already (it came with a snapshot)
                if (entry.Type == EntryType.ConfChange) results.Add(ApplyConfChange(batch, entry));
                else if (entry.Data.IsEmpty) batch.MarkApplied(entry.Index);
                else
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    results.Add(ApplyRequest(batch, entry));
                    if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > options.WarningApplyDuration) Metrics.ServerMetrics.SlowApplies.Inc();
                }
            }
            batch.SetMeta(BackendMeta.RaftTerm, BackendMeta.Number(entries[^1].Term));
            revision = batch.CurrentRevision;
            batch.Commit();
            events = batch.Events;
        }
        Watches.Publish(events, revision);
        Volatile.Write(ref appliedIndex, Math.Max(AppliedIndex, entries[^1].Index));
        Applied.Advance(entries[^1].Index, entries[^1].Term);
        Interlocked.Exchange(ref appliedSignal, NewSignal()).TrySetResult();
        var answers = new Answers();
        foreach (var (id, result) in results)
        {
            if (waiters.TryRemove(id, out var waiter)) answers.Add(waiter, result);
        }
        answers.SendOrRunAlone();
    }

    private (ulong, object) ApplyRequest(ApplyBatch batch, Entry entry)
    {
        var request = ProposedHere(entry.Data.Span) ?? LogRequest.Parser.ParseFrom(entry.Data.Span);
        return (request.Id, applier.Apply(batch, entry.Index, request));
    }

    /// <summary>The request of an entry this member proposed and whose proposer still waits: the entry's bytes are
    /// those encoded from it (compared, so that another member's request with the same id is never taken for it),
    /// so it need not be decoded (see <see cref="IWaiter.Request"/>). The id is the request's first field, as
    /// protobuf writes fields in number order.</summary>
    private LogRequest? ProposedHere(ReadOnlySpan<byte> data)
    {
        const byte IdTag = 1 << 3; // field 1, varint
        if (waiters.IsEmpty || data.Length < 2 || data[0] != IdTag) return null;
        ulong id = 0;
        for (int i = 1, shift = 0; i < data.Length && shift < 64; i++, shift += 7)
        {
            id |= (ulong)(data[i] & 0x7F) << shift;
            if (data[i] < 0x80)
                return waiters.TryGetValue(id, out var waiter) && data.SequenceEqual(waiter.Data) ? waiter.Request : null;
        }
        return null;
    }

    /// <summary>A configuration change: Raft takes it, then the member list follows (<see cref="MembershipApplier"/>).</summary>
    private (ulong, object) ApplyConfChange(ApplyBatch batch, Entry entry)
    {
        var change = ConfChange.Decode(entry.Data.Span);
        var context = change.Context.IsEmpty ? new ConfChangeContext() : ConfChangeContext.Parser.ParseFrom(change.Context.Span);
        confState = node.ApplyConfChange(change);
        batch.SetMeta(BackendMeta.ConfState, ConfStateCodec.Encode(confState));
        var response = membershipApplier.ApplyConfChange(batch, entry.Index, change, context);
        logger.LogInformation("Applied membership change {Change} of {NodeId:x16}: {ConfState}", change.Type, change.NodeId, confState);
        return (context.Id, response);
    }

    private void FailAllWaiters()
    {
        var answers = new Answers();
        foreach (var id in waiters.Keys)
        {
            if (waiters.TryRemove(id, out var waiter)) answers.Add(waiter, EtcdErrors.Stopped.ToException());
        }
        answers.Send();
        readRounds.Abort(this, EtcdErrors.Stopped.ToException());
    }
}
