namespace HttpKv.Raft;

/// <summary>The follower: forwarding requests to the leader, accepting entries, commits and snapshots.</summary>
internal sealed partial class Raft
{
    private bool StepFollower(Message message)
    {
        switch (message.Type)
        {
            case MessageType.Propose or MessageType.ReadIndex or MessageType.TransferLeader:
                if (Lead == 0) return false;
                Send(message with { To = Lead });
                return true;
            case MessageType.Append:
                electionElapsed = 0;
                Lead = message.From;
                HandleAppendEntries(message);
                return true;
            case MessageType.Heartbeat:
                electionElapsed = 0;
                Lead = message.From;
                HandleHeartbeat(message);
                return true;
            case MessageType.Snapshot:
                electionElapsed = 0;
                Lead = message.From;
                HandleSnapshot(message);
                return true;
            case MessageType.TimeoutNow:
                Hup(transfer: true); // the leader hands over: campaign at once, skipping the pre-vote
                return true;
            case MessageType.ReadIndexResponse:
                if (message.Entries.Count == 1) ReadStates.Add(new ReadState(message.Index, message.Entries[0].Data));
                return true;
            default:
                return true;
        }
    }

    private void HandleAppendEntries(Message message)
    {
        if (message.Index < Log.Committed)
        {
            Send(new Message { Type = MessageType.AppendResponse, To = message.From, Index = Log.Committed });
            return;
        }
        var lastNew = Log.MaybeAppend(message.Index, message.LogTerm, message.Commit, message.Entries);
        if (lastNew is not null)
        {
            Send(new Message { Type = MessageType.AppendResponse, To = message.From, Index = lastNew.Value });
            return;
        }
        // Reject, and guess where our logs may match: the last index ≤ the probe whose term is ≤ the leader's
        // term there. The leader then skips a whole term of mismatched entries per round trip.
        var hintIndex = Log.FindConflictByTerm(Math.Min(message.Index, Log.LastIndex()), message.LogTerm);
        Send(new Message
        {
            Type = MessageType.AppendResponse, To = message.From, Index = message.Index, Reject = true,
            RejectHint = hintIndex, LogTerm = Log.TermOrZero(hintIndex),
        });
    }

    private void HandleHeartbeat(Message message)
    {
        Log.CommitTo(message.Commit);
        Send(new Message { Type = MessageType.HeartbeatResponse, To = message.From, Context = message.Context });
    }

    private void HandleSnapshot(Message message)
    {
        var snapshot = message.Snapshot;
        if (snapshot is not null && Restore(snapshot))
            Send(new Message { Type = MessageType.AppendResponse, To = message.From, Index = Log.LastIndex() });
        else
            Send(new Message { Type = MessageType.AppendResponse, To = message.From, Index = Log.Committed });
    }

    /// <summary>Replaces the log with the snapshot. Returns false when it is not newer than what we have.</summary>
    private bool Restore(Snapshot snapshot)
    {
        var metadata = snapshot.Metadata;
        if (metadata.Index <= Log.Committed) return false;
        // The snapshot's configuration may predate our own addition (a new learner): the conf change entries
        // after it bring us in when they are applied.
        if (Log.MatchTerm(metadata.Index, metadata.Term))
        {
            Log.CommitTo(metadata.Index); // we have the entries already: just commit them
            return false;
        }
        Log.Restore(snapshot);
        Tracker.Reset(metadata.ConfState, Log.LastIndex());
        return true;
    }
}
