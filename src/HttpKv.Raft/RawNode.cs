namespace HttpKv.Raft;

/// <summary>One Raft node, driven by its caller from a single thread: <see cref="Tick"/> on a timer,
/// <see cref="Step"/> for each message from a peer, proposals and reads, and the
/// <see cref="HasReady"/> / <see cref="GetReady"/> / <see cref="Advance"/> loop whose contract is on <see cref="Ready"/>.
/// <para>Bootstrapping: the members come from the storage's <see cref="IRaftStorage.InitialState"/>. Every founding
/// member of a new cluster starts from storage holding the same snapshot at index 1, term 1, whose ConfState lists
/// all voters (<see cref="MemoryStorage.ForNewCluster"/>). A member added later starts from empty storage and
/// receives a snapshot from the leader after the AddNode / AddLearnerNode entry is proposed.</para></summary>
public sealed class RawNode
{
    private readonly Raft raft;
    private SoftState previousSoftState;
    private HardState previousHardState;

    public RawNode(RaftConfig config)
    {
        raft = new Raft(config);
        previousSoftState = raft.SoftState;
        previousHardState = raft.HardState;
    }

    public ulong Id => raft.Id;

    /// <summary>Advances logical time by one tick (heartbeat and election timeouts are counted in ticks).</summary>
    public void Tick() => raft.Tick();

    /// <summary>Starts an election now (with a pre-vote when enabled).</summary>
    public void Campaign() => raft.Step(new Message { Type = MessageType.Hup, From = raft.Id });

    /// <summary>Proposes data for the log; on a follower it is forwarded to the leader. Acceptance is not commit:
    /// the entry may still be lost if leadership changes, so the caller waits to see it applied (and times out).</summary>
    /// <exception cref="ProposalDroppedException">no leader is known, a transfer is in progress, or this node was removed.</exception>
    public void Propose(ReadOnlyMemory<byte> data) =>
        ProposeEntry(new Entry(0, 0, EntryType.Normal, data), "no leader, leadership transfer in progress, or not a member");

    /// <summary>Proposes several entries in one message: the leader appends them together and sends them to each
    /// follower in one append (a follower forwards them to the leader in one message). As <see cref="Propose(ReadOnlyMemory{byte})"/> otherwise.</summary>
    /// <exception cref="ProposalDroppedException">as for Propose; then none of them was accepted.</exception>
    public void Propose(IReadOnlyList<ReadOnlyMemory<byte>> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) return;
        var entries = new Entry[batch.Count];
        for (var i = 0; i < entries.Length; i++) entries[i] = new Entry(0, 0, EntryType.Normal, batch[i]);
        if (!raft.Step(new Message { Type = MessageType.Propose, From = raft.Id, Entries = entries }))
            throw new ProposalDroppedException("no leader, leadership transfer in progress, or not a member");
    }

    /// <summary>Proposes a membership change. Apply it with <see cref="ApplyConfChange"/> once it is committed.</summary>
    /// <exception cref="ProposalDroppedException">as for Propose, or the previous conf change is not applied yet.</exception>
    public void ProposeConfChange(ConfChange change) =>
        ProposeEntry(new Entry(0, 0, EntryType.ConfChange, change.Encode()), "no leader, or a conf change is still pending");

    private void ProposeEntry(Entry entry, string reason)
    {
        if (!raft.Step(new Message { Type = MessageType.Propose, From = raft.Id, Entries = [entry] }))
            throw new ProposalDroppedException(reason);
    }

    /// <summary>Steps a message received from a peer. Local-only message types are ignored, as are responses from
    /// nodes that are not members.</summary>
    public void Step(Message message)
    {
        if (message.Type is MessageType.Hup or MessageType.Beat or MessageType.CheckQuorum
            or MessageType.Unreachable or MessageType.SnapshotStatus) return;
        raft.Step(message);
    }

    /// <summary>Asks for a linearizable read. The answer is a <see cref="ReadState"/> with this context in a later
    /// Ready; it can be lost (leadership changes, messages dropped), so the caller times out and retries.</summary>
    /// <exception cref="ProposalDroppedException">no leader is known.</exception>
    public void ReadIndex(ReadOnlyMemory<byte> context)
    {
        var message = new Message { Type = MessageType.ReadIndex, From = raft.Id, Entries = [new Entry(0, 0, EntryType.Normal, context)] };
        if (!raft.Step(message)) throw new ProposalDroppedException("no leader to serve a read index");
    }

    /// <summary>Asks the leader to hand leadership to <paramref name="transferee"/> (ignored when it is a learner or
    /// not a member; given up after an election timeout).</summary>
    public void TransferLeader(ulong transferee) =>
        raft.Step(new Message { Type = MessageType.TransferLeader, From = transferee, To = raft.Id });

    /// <summary>Applies a committed conf change to the node's configuration; returns the new configuration.</summary>
    public ConfState ApplyConfChange(ConfChange change) => raft.ApplyConfChange(change);

    public void ReportUnreachable(ulong id) => raft.Step(new Message { Type = MessageType.Unreachable, From = id });

    public void ReportSnapshot(ulong id, bool succeeded) =>
        raft.Step(new Message { Type = MessageType.SnapshotStatus, From = id, Reject = !succeeded });

    public bool HasReady()
    {
        raft.FlushReadIndexRound();
        var log = raft.Log;
        return raft.SoftState != previousSoftState
            || (raft.HardState != previousHardState && !raft.HardState.IsEmpty)
            || log.Unstable.Snapshot is not null
            || log.Unstable.Entries.Count > 0
            || raft.Messages.Count > 0
            || raft.ReadStates.Count > 0
            || log.HasCommittedEntriesToApply();
    }

    /// <summary>Collects what the caller must do now. Follow it with <see cref="Advance"/> before the next call.</summary>
    public Ready GetReady()
    {
        raft.FlushReadIndexRound();
        var softState = raft.SoftState;
        var hardState = raft.HardState;
        var entries = raft.Log.UnstableEntries();
        var ready = new Ready
        {
            SoftState = softState != previousSoftState ? softState : null,
            HardState = hardState != previousHardState ? hardState : null,
            Entries = entries,
            Snapshot = raft.Log.Unstable.Snapshot,
            CommittedEntries = raft.Log.CommittedEntriesToApply(),
            Messages = raft.Messages,
            ReadStates = raft.ReadStates,
            MustSync = entries.Count > 0 || hardState.Term != previousHardState.Term || hardState.Vote != previousHardState.Vote,
        };
        previousSoftState = softState;
        previousHardState = hardState;
        raft.Messages = [];
        raft.ReadStates = [];
        return ready;
    }

    /// <summary>Tells the node the Ready was persisted and applied.</summary>
    public void Advance(Ready ready)
    {
        var log = raft.Log;
        if (ready.Snapshot is not null)
        {
            log.Unstable.StableSnapshotTo(ready.Snapshot.Metadata.Index);
            log.AppliedTo(ready.Snapshot.Metadata.Index);
        }
        if (ready.Entries.Count > 0) log.Unstable.StableTo(ready.Entries[^1].Index, ready.Entries[^1].Term);
        if (ready.CommittedEntries.Count > 0) log.AppliedTo(ready.CommittedEntries[^1].Index);
    }

    public RaftStatus Status => new(
        raft.Id, raft.Term, raft.Vote, raft.Log.Committed, raft.Log.Applied, raft.Lead, raft.Role, raft.LeadTransferee,
        raft.Tracker.ConfState(),
        raft.Role == RaftRole.Leader
            ? raft.Tracker.Progress.ToDictionary(p => p.Key, p => p.Value.ToStatus())
            : new Dictionary<ulong, ProgressStatus>());
}
