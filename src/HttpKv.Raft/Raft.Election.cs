namespace HttpKv.Raft;

/// <summary>Elections: pre-vote and vote campaigns, answering vote requests, and the candidate's step.</summary>
internal sealed partial class Raft
{
    private void Hup(bool transfer)
    {
        if (Role == RaftRole.Leader || !Promotable) return;
        // A committed but unapplied conf change may change whether we are a voter: apply it first.
        if (Log.HasUnappliedConfChange()) return;
        if (config.PreVote && !transfer) Campaign(preElection: true, transfer: false);
        else Campaign(preElection: false, transfer);
    }

    private void Campaign(bool preElection, bool transfer)
    {
        ulong term;
        MessageType voteType;
        if (preElection)
        {
            BecomePreCandidate();
            voteType = MessageType.PreVote;
            term = Term + 1; // the term we would campaign in; ours stays unchanged
        }
        else
        {
            BecomeCandidate();
            voteType = MessageType.Vote;
            term = Term;
        }
        if (RecordVote(Id, granted: true)) return; // a cluster of one
        foreach (var voter in Tracker.Voters.Where(v => v != Id).ToArray())
        {
            Send(new Message
            {
                Type = voteType, To = voter, Term = term, Index = Log.LastIndex(), LogTerm = Log.LastTerm(),
                Context = transfer ? CampaignTransfer : ReadOnlyMemory<byte>.Empty,
            });
        }
    }

    /// <summary>Records a vote and acts on the outcome. Returns true when the election was decided.</summary>
    private bool RecordVote(ulong from, bool granted)
    {
        switch (Tracker.RecordVote(from, granted))
        {
            case VoteResult.Won when Role == RaftRole.PreCandidate:
                Campaign(preElection: false, transfer: false);
                return true;
            case VoteResult.Won:
                BecomeLeader();
                BroadcastAppend();
                return true;
            case VoteResult.Lost:
                BecomeFollower(Term, 0);
                return true;
            default:
                return false;
        }
    }

    private void HandleVoteRequest(Message message)
    {
        var responseType = message.Type == MessageType.Vote ? MessageType.VoteResponse : MessageType.PreVoteResponse;
        var canVote = Vote == message.From
            || (Vote == 0 && Lead == 0)
            || (message.Type == MessageType.PreVote && message.Term > Term);
        if (canVote && Log.IsUpToDate(message.Index, message.LogTerm))
        {
            // A granted pre-vote answers in the candidate's future term, so the candidate counts it.
            Send(new Message { To = message.From, Type = responseType, Term = message.Term });
            if (message.Type == MessageType.Vote)
            {
                electionElapsed = 0;
                Vote = message.From;
            }
        }
        else
        {
            Send(new Message { To = message.From, Type = responseType, Term = Term, Reject = true });
        }
    }

    private bool StepCandidate(Message message)
    {
        var myResponseType = Role == RaftRole.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        switch (message.Type)
        {
            case MessageType.Propose or MessageType.ReadIndex or MessageType.TransferLeader:
                return false; // no leader to forward to
            case MessageType.Append:
                BecomeFollower(message.Term, message.From);
                HandleAppendEntries(message);
                return true;
            case MessageType.Heartbeat:
                BecomeFollower(message.Term, message.From);
                HandleHeartbeat(message);
                return true;
            case MessageType.Snapshot:
                BecomeFollower(message.Term, message.From);
                HandleSnapshot(message);
                return true;
            case var type when type == myResponseType:
                RecordVote(message.From, !message.Reject);
                return true;
            default:
                return true;
        }
    }
}
