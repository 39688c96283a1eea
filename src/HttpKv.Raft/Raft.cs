namespace HttpKv.Raft;

/// <summary>The Raft state machine of one node. Pure: it changes only on Tick and Step, and its outputs
/// (messages, entries to persist, entries to apply, read states) are collected by <see cref="RawNode"/>.
/// This file: state, role transitions, the term rules every message passes, ticks. The role-specific
/// handling is in Raft.Election.cs, Raft.Leader.cs, Raft.Follower.cs and Raft.Membership.cs.</summary>
internal sealed partial class Raft
{
    private static readonly ReadOnlyMemory<byte> CampaignTransfer = "CampaignTransfer"u8.ToArray();

    private readonly RaftConfig config;
    private readonly Random random;
    private readonly ReadIndexTracker readIndex = new();
    private readonly List<Message> pendingReadIndexMessages = [];
    private int electionElapsed;
    private int heartbeatElapsed;
    private int randomizedElectionTimeout;
    private ulong pendingConfIndex;

    public ulong Id { get; }
    public ulong Term { get; private set; }
    public ulong Vote { get; private set; }
    public ulong Lead { get; private set; }
    public RaftRole Role { get; private set; }
    public ulong LeadTransferee { get; private set; }
    public RaftLog Log { get; }
    public ProgressTracker Tracker { get; }
    public List<Message> Messages { get; set; } = [];
    public List<ReadState> ReadStates { get; set; } = [];

    public Raft(RaftConfig config)
    {
        config.Validate();
        this.config = config;
        random = config.Random;
        Id = config.Id;
        Log = new RaftLog(config.Storage, config.MaxSizePerMessage);
        Tracker = new ProgressTracker(config.MaxInflightMessages);
        var (hardState, confState) = config.Storage.InitialState();
        Tracker.Reset(confState, Log.LastIndex());
        if (!hardState.IsEmpty)
        {
            Invariant.Check(hardState.Commit <= Log.LastIndex(), $"hard state commit {hardState.Commit} beyond last index {Log.LastIndex()}");
            Term = hardState.Term;
            Vote = hardState.Vote;
            Log.CommitTo(hardState.Commit);
        }
        if (config.Applied > Log.Committed)
        {
            // The state machine holds entries beyond the persisted commit (a commit index written lazily, as
            // MustSync allows, was lost in a crash): they were committed, or they could not have been applied.
            Invariant.Check(config.Applied <= Log.LastIndex(), $"applied {config.Applied} is beyond the persisted log {Log.LastIndex()}");
            Log.CommitTo(config.Applied);
        }
        if (config.Applied > 0) Log.AppliedTo(config.Applied);
        BecomeFollower(Term, 0);
    }

    public HardState HardState => new(Term, Vote, Log.Committed);
    public SoftState SoftState => new(Lead, Role);

    /// <summary>Whether this node may become leader: a voter in its own configuration.</summary>
    public bool Promotable => Tracker.IsVoter(Id);

    private int ElectionTicks => config.ElectionTicks;

    // ---- role transitions ----

    private void Reset(ulong term)
    {
        if (Term != term)
        {
            Term = term;
            Vote = 0;
        }
        Lead = 0;
        electionElapsed = 0;
        heartbeatElapsed = 0;
        randomizedElectionTimeout = ElectionTicks + random.Next(ElectionTicks);
        LeadTransferee = 0;
        Tracker.ResetVotes();
        foreach (var (id, progress) in Tracker.Progress.ToArray())
        {
            var fresh = new Progress(0, Log.LastIndex() + 1, config.MaxInflightMessages, progress.IsLearner);
            if (id == Id) fresh.Match = Log.LastIndex();
            Tracker.Progress[id] = fresh;
        }
        pendingConfIndex = 0;
        readIndex.Reset();
        pendingReadIndexMessages.Clear();
    }

    public void BecomeFollower(ulong term, ulong lead)
    {
        Reset(term);
        Lead = lead;
        Role = RaftRole.Follower;
    }

    private void BecomePreCandidate()
    {
        Invariant.Check(Role != RaftRole.Leader, "leader cannot become pre-candidate");
        Tracker.ResetVotes();
        Lead = 0;
        Role = RaftRole.PreCandidate;
    }

    private void BecomeCandidate()
    {
        Invariant.Check(Role != RaftRole.Leader, "leader cannot become candidate");
        Reset(Term + 1);
        Vote = Id;
        Role = RaftRole.Candidate;
    }

    private void BecomeLeader()
    {
        Invariant.Check(Role != RaftRole.Follower, "follower cannot become leader directly");
        Reset(Term);
        Lead = Id;
        Role = RaftRole.Leader;
        if (Tracker.Progress.TryGetValue(Id, out var self))
        {
            self.BecomeReplicate();
            self.RecentActive = true;
        }
        // Entries of earlier terms commit only under an entry of this term: append an empty one now. A conf
        // change may still be uncommitted in the log, so hold new ones until everything up to here is applied.
        pendingConfIndex = Log.LastIndex();
        AppendEntries([new Entry(0, 0, EntryType.Normal, default)]);
    }

    // ---- ticks ----

    public void Tick()
    {
        if (Role == RaftRole.Leader) TickHeartbeat();
        else TickElection();
    }

    private void TickElection()
    {
        electionElapsed++;
        if (Promotable && electionElapsed >= randomizedElectionTimeout)
        {
            electionElapsed = 0;
            Step(new Message { Type = MessageType.Hup, From = Id });
        }
    }

    private void TickHeartbeat()
    {
        heartbeatElapsed++;
        electionElapsed++;
        if (electionElapsed >= ElectionTicks)
        {
            electionElapsed = 0;
            if (config.CheckQuorum) Step(new Message { Type = MessageType.CheckQuorum, From = Id });
            if (Role == RaftRole.Leader && LeadTransferee != 0) LeadTransferee = 0; // the transfer timed out
        }
        if (Role != RaftRole.Leader) return;
        if (heartbeatElapsed >= config.HeartbeatTicks)
        {
            heartbeatElapsed = 0;
            Step(new Message { Type = MessageType.Beat, From = Id });
        }
    }

    // ---- messages ----

    private void Send(Message message)
    {
        // A request forwarded to the leader keeps its origin (a transfer names its transferee in From).
        var withFrom = message.From == 0 ? message with { From = Id } : message;
        var carriesOwnTerm = message.Type is MessageType.Vote or MessageType.PreVote
            or MessageType.VoteResponse or MessageType.PreVoteResponse;
        // Proposals and read requests forwarded to the leader are local messages: they carry no term.
        var isForwarded = message.Type is MessageType.Propose or MessageType.ReadIndex or MessageType.TransferLeader;
        if (!carriesOwnTerm && !isForwarded) withFrom = withFrom with { Term = Term };
        Messages.Add(withFrom);
    }

    /// <summary>Steps one message. Returns false when a local proposal, read or transfer request was dropped.</summary>
    public bool Step(Message message)
    {
        if (!StepTerm(message)) return true;
        switch (message.Type)
        {
            case MessageType.Hup:
                Hup(transfer: false);
                return true;
            case MessageType.Vote or MessageType.PreVote:
                HandleVoteRequest(message);
                return true;
            default:
                return Role switch
                {
                    RaftRole.Leader => StepLeader(message),
                    RaftRole.Follower => StepFollower(message),
                    _ => StepCandidate(message),
                };
        }
    }

    /// <summary>The rules on terms every message passes first. Returns false when the message is to be ignored.</summary>
    private bool StepTerm(Message message)
    {
        if (message.Term == 0 || message.Term == Term) return true;
        if (message.Term > Term) return StepHigherTerm(message);
        // A message from an older term. A leader stuck in an old term (its term was overtaken while it was cut
        // off) learns the newer term from our answer; an old pre-candidate learns it has lost.
        if ((config.CheckQuorum || config.PreVote) && message.Type is MessageType.Heartbeat or MessageType.Append)
            Send(new Message { To = message.From, Type = MessageType.AppendResponse });
        else if (message.Type == MessageType.PreVote)
            Send(new Message { To = message.From, Type = MessageType.PreVoteResponse, Term = Term, Reject = true });
        return false;
    }

    private bool StepHigherTerm(Message message)
    {
        if (message.Type is MessageType.Vote or MessageType.PreVote)
        {
            var forced = message.Context.Span.SequenceEqual(CampaignTransfer.Span);
            var inLease = config.CheckQuorum && Lead != 0 && electionElapsed < ElectionTicks;
            if (!forced && inLease) return false; // we heard from a leader recently: keep it (vote lease)
        }
        if (message.Type == MessageType.PreVote) return true; // a pre-vote never changes our term
        if (message.Type == MessageType.PreVoteResponse && !message.Reject) return true; // term rises when the real vote is won
        var lead = message.Type is MessageType.Append or MessageType.Heartbeat or MessageType.Snapshot ? message.From : 0;
        BecomeFollower(message.Term, lead);
        return true;
    }
}
