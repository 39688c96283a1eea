namespace HttpKv.Raft;

/// <summary>The leader: proposals, replication to each follower by its progress, commit, heartbeats,
/// check-quorum, read index rounds and leadership transfer.</summary>
internal sealed partial class Raft
{
    private bool StepLeader(Message message)
    {
        switch (message.Type)
        {
            case MessageType.Beat:
                BroadcastHeartbeat(ReadOnlyMemory<byte>.Empty);
                return true;
            case MessageType.CheckQuorum:
                CheckQuorum();
                return true;
            case MessageType.Propose:
                return HandlePropose(message);
            case MessageType.ReadIndex:
                return HandleReadIndex(message);
        }
        if (!Tracker.Progress.TryGetValue(message.From, out var progress)) return true; // not a member
        switch (message.Type)
        {
            case MessageType.AppendResponse:
                HandleAppendResponse(message, progress);
                break;
            case MessageType.HeartbeatResponse:
                HandleHeartbeatResponse(message, progress);
                break;
            case MessageType.SnapshotStatus:
                HandleSnapshotStatus(message, progress);
                break;
            case MessageType.Unreachable:
                if (progress.State == ProgressState.Replicate) progress.BecomeProbe();
                break;
            case MessageType.TransferLeader:
                HandleTransferLeader(message.From, progress);
                break;
        }
        return true;
    }

    private void CheckQuorum()
    {
        if (!Tracker.QuorumActive(Id)) BecomeFollower(Term, 0);
        foreach (var (id, progress) in Tracker.Progress)
            if (id != Id) progress.RecentActive = false;
    }

    private bool HandlePropose(Message message)
    {
        if (message.Entries.Count == 0) return false;
        if (!Tracker.Progress.ContainsKey(Id) || LeadTransferee != 0) return false;
        if (message.Entries.Any(entry => entry.Type == EntryType.ConfChange))
        {
            if (message.Entries.Count != 1 || pendingConfIndex > Log.Applied) return false;
            pendingConfIndex = Log.LastIndex() + 1;
        }
        AppendEntries(message.Entries);
        BroadcastAppend();
        return true;
    }

    private void AppendEntries(IReadOnlyList<Entry> entries)
    {
        var last = Log.LastIndex();
        // A proposal's own array is stamped in place, as etcd's appendEntry does (the log keeps copies of the values).
        var stamped = entries as Entry[] ?? [.. entries];
        for (var i = 0; i < stamped.Length; i++)
            stamped[i] = stamped[i] with { Term = Term, Index = last + 1 + (ulong)i };
        last = Log.Append(stamped);
        // The leader counts its own entries at once. They are durable before any acknowledgement can count with them:
        // the caller steps messages only after the Ready that carries these entries has been persisted.
        if (Tracker.Progress.TryGetValue(Id, out var self)) self.MaybeUpdate(last);
        MaybeCommit();
    }

    private bool MaybeCommit()
    {
        if (!Log.MaybeCommit(Tracker.CommittedIndex(), Term)) return false;
        ReleasePendingReadIndexMessages();
        return true;
    }

    private bool CommittedEntryInCurrentTerm => Log.TermOrZero(Log.Committed) == Term;

    public void BroadcastAppend()
    {
        foreach (var id in Tracker.Progress.Keys.ToArray())
            if (id != Id) SendAppend(id, sendIfEmpty: true);
    }

    /// <summary>Sends the entries the follower needs next (or a snapshot when they are compacted away).
    /// Returns whether a message was sent.</summary>
    private bool SendAppend(ulong to, bool sendIfEmpty)
    {
        var progress = Tracker.Progress[to];
        if (progress.IsPaused) return false;
        var previousIndex = progress.Next - 1;
        var previousTerm = Log.Term(previousIndex);
        var entries = Log.EntriesFrom(progress.Next, config.MaxSizePerMessage);
        if (previousTerm is null || entries is null) return SendSnapshot(to, progress);
        if (entries.Count == 0 && !sendIfEmpty) return false;
        Send(new Message
        {
            Type = MessageType.Append, To = to, Index = previousIndex, LogTerm = previousTerm.Value,
            Entries = entries, Commit = Log.Committed,
        });
        if (progress.State == ProgressState.Replicate && entries.Count > 0)
        {
            progress.Next = entries[^1].Index + 1;
            progress.Inflights.Add(entries[^1].Index);
        }
        else if (progress.State == ProgressState.Probe)
        {
            progress.ProbeSent = true;
        }
        return true;
    }

    private bool SendSnapshot(ulong to, Progress progress)
    {
        if (!progress.RecentActive) return false; // don't ship a snapshot to a node that may be down
        var snapshot = Log.Snapshot();
        Invariant.Check(!snapshot.IsEmpty, "log is compacted but there is no snapshot");
        progress.BecomeSnapshot(snapshot.Metadata.Index);
        Send(new Message { Type = MessageType.Snapshot, To = to, Snapshot = snapshot });
        return true;
    }

    private void BroadcastHeartbeat(ReadOnlyMemory<byte> context)
    {
        foreach (var (id, progress) in Tracker.Progress)
        {
            if (id == Id) continue;
            // Never tell a follower to commit beyond what it is known to have.
            var commit = Math.Min(progress.Match, Log.Committed);
            Send(new Message { Type = MessageType.Heartbeat, To = id, Commit = commit, Context = context });
        }
    }

    private void HandleAppendResponse(Message message, Progress progress)
    {
        progress.RecentActive = true;
        if (message.Reject)
        {
            var probeFrom = message.LogTerm > 0 ? Log.FindConflictByTerm(message.RejectHint, message.LogTerm) : message.RejectHint;
            if (progress.MaybeDecreaseTo(message.Index, probeFrom))
            {
                if (progress.State == ProgressState.Replicate) progress.BecomeProbe();
                SendAppend(message.From, sendIfEmpty: true);
            }
            return;
        }
        var wasPaused = progress.IsPaused;
        if (!progress.MaybeUpdate(message.Index)) return;
        switch (progress.State)
        {
            case ProgressState.Probe:
                progress.BecomeReplicate();
                break;
            case ProgressState.Snapshot when progress.Match >= progress.PendingSnapshot:
                progress.BecomeProbe();
                progress.BecomeReplicate();
                break;
            case ProgressState.Replicate:
                progress.Inflights.FreeLE(message.Index);
                break;
        }
        if (MaybeCommit()) BroadcastAppend();
        else if (wasPaused) SendAppend(message.From, sendIfEmpty: true);
        while (Role == RaftRole.Leader && SendAppend(message.From, sendIfEmpty: false)) { }
        if (message.From == LeadTransferee && progress.Match == Log.LastIndex())
            Send(new Message { Type = MessageType.TimeoutNow, To = message.From });
    }

    private void HandleHeartbeatResponse(Message message, Progress progress)
    {
        progress.RecentActive = true;
        progress.ProbeSent = false;
        if (progress.State == ProgressState.Replicate && progress.Inflights.Full) progress.Inflights.FreeFirstOne();
        if (progress.Match < Log.LastIndex()) SendAppend(message.From, sendIfEmpty: true);
        var round = ReadIndexTracker.DecodeRound(message.Context);
        if (round is null || readIndex.Pending == 0) return;
        readIndex.Ack(message.From, round.Value);
        ReleaseReads();
    }

    private void HandleSnapshotStatus(Message message, Progress progress)
    {
        if (progress.State != ProgressState.Snapshot) return;
        if (message.Reject) progress.PendingSnapshot = 0;
        progress.BecomeProbe();
        progress.ProbeSent = true; // wait for the next heartbeat response before probing again
    }

    private void HandleTransferLeader(ulong transferee, Progress progress)
    {
        if (progress.IsLearner || transferee == Id || transferee == LeadTransferee) return;
        LeadTransferee = transferee;
        electionElapsed = 0; // the transfer must finish within one election timeout
        if (progress.Match == Log.LastIndex()) Send(new Message { Type = MessageType.TimeoutNow, To = transferee });
        else SendAppend(transferee, sendIfEmpty: true);
    }
}
