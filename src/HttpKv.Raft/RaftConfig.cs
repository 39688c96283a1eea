namespace HttpKv.Raft;

/// <summary>Settings of one Raft node. Ticks are the caller's unit of time (etcd: one tick per heartbeat interval).</summary>
public sealed record RaftConfig
{
    /// <summary>This node's id; never 0.</summary>
    public ulong Id { get; init; }

    /// <summary>A follower campaigns after a random timeout in [ElectionTicks, 2*ElectionTicks) without a leader.</summary>
    public int ElectionTicks { get; init; } = 10;

    /// <summary>The leader sends heartbeats every HeartbeatTicks; must be less than ElectionTicks.</summary>
    public int HeartbeatTicks { get; init; } = 1;

    /// <summary>The persisted log, hard state and snapshot this node starts from.</summary>
    public required IRaftStorage Storage { get; init; }

    /// <summary>The last index the caller's state machine has applied (0 = the storage's snapshot index). It may
    /// exceed the persisted commit index (commit is raised to it) but not the persisted log.</summary>
    public ulong Applied { get; init; }

    /// <summary>Upper bound on the entry bytes of one Append message (at least one entry is always sent).</summary>
    public ulong MaxSizePerMessage { get; init; } = 1 << 20;

    /// <summary>How many Append messages may be in flight to one follower in replicate state.</summary>
    public int MaxInflightMessages { get; init; } = 256;

    /// <summary>A leader that has not heard from a quorum for an election timeout steps down; followers that
    /// heard from a leader within an election timeout refuse votes (the vote lease).</summary>
    public bool CheckQuorum { get; init; } = true;

    /// <summary>Run a pre-election (that does not raise terms) before a real one.</summary>
    public bool PreVote { get; init; } = true;

    /// <summary>The only source of randomness (election timeouts). Seed it for reproducible runs.</summary>
    public required Random Random { get; init; }

    internal void Validate()
    {
        if (Id == 0) throw new ArgumentException("raft: Id must not be 0");
        if (HeartbeatTicks <= 0) throw new ArgumentException("raft: HeartbeatTicks must be > 0");
        if (ElectionTicks <= HeartbeatTicks) throw new ArgumentException("raft: ElectionTicks must be > HeartbeatTicks");
        if (MaxInflightMessages <= 0) throw new ArgumentException("raft: MaxInflightMessages must be > 0");
    }
}
