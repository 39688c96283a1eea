namespace HttpKv.Raft;

/// <summary>Every message Raft exchanges, with peers or with its own caller ("local" messages: Hup, Beat,
/// CheckQuorum, Unreachable, SnapshotStatus; Propose/ReadIndex/TransferLeader are local until forwarded).</summary>
public enum MessageType
{
    Hup, Beat, Propose, Append, AppendResponse, Vote, VoteResponse, PreVote, PreVoteResponse, Snapshot,
    Heartbeat, HeartbeatResponse, Unreachable, SnapshotStatus, CheckQuorum, TransferLeader, TimeoutNow,
    ReadIndex, ReadIndexResponse,
}

public enum EntryType { Normal, ConfChange }

/// <summary>One log entry. <see cref="Data"/> of a <see cref="EntryType.ConfChange"/> entry is <see cref="ConfChange.Encode"/>.</summary>
public readonly record struct Entry(ulong Term, ulong Index, EntryType Type, ReadOnlyMemory<byte> Data);

/// <summary>What must be on disk before any message of the same Ready is sent.</summary>
public readonly record struct HardState(ulong Term, ulong Vote, ulong Commit)
{
    public bool IsEmpty => Term == 0 && Vote == 0 && Commit == 0;
}

/// <summary>The membership: voters count for elections and commit, learners only receive the log.</summary>
public sealed record ConfState(IReadOnlyList<ulong> Voters, IReadOnlyList<ulong> Learners)
{
    public static ConfState Empty { get; } = new([], []);

    public bool Contains(ulong id) => Voters.Contains(id) || Learners.Contains(id);

    public bool Equals(ConfState? other) =>
        other is not null && Voters.SequenceEqual(other.Voters) && Learners.SequenceEqual(other.Learners);

    public override int GetHashCode() => HashCode.Combine(Voters.Count, Learners.Count);

    public override string ToString() => $"voters=[{string.Join(",", Voters)}] learners=[{string.Join(",", Learners)}]";
}

public sealed record SnapshotMetadata(ulong Index, ulong Term, ConfState ConfState);

/// <summary>The state machine as of <see cref="SnapshotMetadata.Index"/>; Data is the caller's own encoding.</summary>
public sealed record Snapshot(SnapshotMetadata Metadata, ReadOnlyMemory<byte> Data)
{
    public static Snapshot Empty { get; } = new(new SnapshotMetadata(0, 0, ConfState.Empty), ReadOnlyMemory<byte>.Empty);

    public bool IsEmpty => Metadata.Index == 0;
}

public enum ConfChangeType { AddNode, RemoveNode, AddLearnerNode }

/// <summary>A change of one member. AddNode of a learner promotes it; AddLearnerNode of a voter demotes it.</summary>
public sealed record ConfChange(ConfChangeType Type, ulong NodeId, ReadOnlyMemory<byte> Context)
{
    /// <summary>Layout: type (1 byte), node id (varint), context (the rest).</summary>
    public byte[] Encode()
    {
        var writer = new WireWriter();
        writer.WriteByte((byte)Type);
        writer.WriteVarint(NodeId);
        writer.WriteRaw(Context.Span);
        return writer.ToArray();
    }

    public static ConfChange Decode(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data);
        var type = reader.ReadByte();
        if (type > (byte)ConfChangeType.AddLearnerNode) throw new FormatException($"unknown conf change type {type}");
        var nodeId = reader.ReadVarint();
        return new ConfChange((ConfChangeType)type, nodeId, reader.ReadRest());
    }
}

/// <summary>A ReadIndex answer: once the caller has applied up to <see cref="Index"/>, a read issued with
/// <see cref="RequestContext"/> may be served from the local state machine.</summary>
public readonly record struct ReadState(ulong Index, ReadOnlyMemory<byte> RequestContext);

public enum RaftRole { Follower, PreCandidate, Candidate, Leader }

/// <summary>Volatile state, not persisted: who leads (0 = nobody known) and this node's role.</summary>
public readonly record struct SoftState(ulong Leader, RaftRole Role);

public enum ProgressState { Probe, Replicate, Snapshot }

/// <summary>The leader's view of one follower.</summary>
public sealed record ProgressStatus(ulong Match, ulong Next, ProgressState State, bool IsLearner, bool RecentActive, ulong PendingSnapshot);

public sealed record RaftStatus(
    ulong Id, ulong Term, ulong Vote, ulong Commit, ulong Applied, ulong Lead, RaftRole Role, ulong LeadTransferee,
    ConfState ConfState, IReadOnlyDictionary<ulong, ProgressStatus> Progress);

/// <summary>Thrown by <see cref="RawNode.Propose"/>, <see cref="RawNode.ProposeConfChange"/> and
/// <see cref="RawNode.ReadIndex"/> when the request cannot be accepted now (no known leader, a leadership transfer
/// in progress, a conf change still pending, this node removed). The caller may retry later.</summary>
public sealed class ProposalDroppedException(string reason) : Exception($"raft proposal dropped: {reason}")
{
    public string Reason { get; } = reason;
}
