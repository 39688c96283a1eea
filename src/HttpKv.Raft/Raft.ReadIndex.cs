namespace HttpKv.Raft;

/// <summary>Linearizable reads: the leader answers a read with its commit index once a quorum has confirmed,
/// by a heartbeat round sent after the read arrived, that it still leads.</summary>
internal sealed partial class Raft
{
    /// <summary>Reads waiting for a round (or for the first commit of the term) beyond this are dropped.</summary>
    internal const int MaxPendingReads = 4096;

    private bool HandleReadIndex(Message message)
    {
        if (message.Entries.Count != 1) return false;
        if (readIndex.Pending + pendingReadIndexMessages.Count >= MaxPendingReads) return false;
        if (Tracker.VoterCount == 1 && Tracker.IsVoter(Id))
        {
            AnswerRead(new ReadIndexTracker.Request(0, Log.Committed, message.From, message.Entries[0].Data));
            return true;
        }
        // Until an entry of our term commits, our commit index may lag the previous leader's: wait for it.
        if (!CommittedEntryInCurrentTerm)
        {
            pendingReadIndexMessages.Add(message);
            return true;
        }
        readIndex.Add(Log.Committed, message.From, message.Entries[0].Data);
        return true;
    }

    private void ReleasePendingReadIndexMessages()
    {
        if (pendingReadIndexMessages.Count == 0 || !CommittedEntryInCurrentTerm) return;
        var pending = pendingReadIndexMessages.ToArray();
        pendingReadIndexMessages.Clear();
        foreach (var message in pending) HandleReadIndex(message);
    }

    /// <summary>Sends the heartbeat round for the reads that arrived since the last one (called before each Ready,
    /// so that concurrent reads share one round).</summary>
    public void FlushReadIndexRound()
    {
        if (Role != RaftRole.Leader) return;
        var round = readIndex.TakeRoundToSend();
        if (round is null) return;
        readIndex.Ack(Id, round.Value);
        BroadcastHeartbeat(ReadIndexTracker.EncodeRound(round.Value));
        ReleaseReads();
    }

    private void ReleaseReads()
    {
        foreach (var request in readIndex.Release(Tracker)) AnswerRead(request);
    }

    private void AnswerRead(ReadIndexTracker.Request request)
    {
        if (request.From == 0 || request.From == Id)
        {
            ReadStates.Add(new ReadState(request.Index, request.Context));
            return;
        }
        Send(new Message
        {
            Type = MessageType.ReadIndexResponse, To = request.From, Index = request.Index,
            Entries = [new Entry(0, 0, EntryType.Normal, request.Context)],
        });
    }
}
