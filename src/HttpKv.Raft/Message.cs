namespace HttpKv.Raft;

/// <summary>A Raft message. Field use by type:
/// Append: Index/LogTerm = the entry before <see cref="Entries"/>, Commit = leader's commit.
/// AppendResponse: Index = the follower's last matching index, or (Reject) the probed index with
/// RejectHint/LogTerm = the follower's guess of where the logs may match (fast backtracking).
/// Vote/PreVote: Index/LogTerm = the candidate's last entry; Context = "CampaignTransfer" when a transfer forces it.
/// Heartbeat/HeartbeatResponse: Commit, Context = read-index round (echoed back).
/// ReadIndex/ReadIndexResponse: Entries[0].Data = the caller's request context, Index = the read index.</summary>
public sealed record Message
{
    public MessageType Type { get; init; }
    public ulong To { get; init; }
    public ulong From { get; init; }
    public ulong Term { get; init; }
    public ulong LogTerm { get; init; }
    public ulong Index { get; init; }
    public ulong Commit { get; init; }
    public IReadOnlyList<Entry> Entries { get; init; } = [];
    public Snapshot? Snapshot { get; init; }
    public bool Reject { get; init; }
    public ulong RejectHint { get; init; }
    public ReadOnlyMemory<byte> Context { get; init; }

    public override string ToString() =>
        $"{Type} {From}->{To} term={Term} logTerm={LogTerm} index={Index} commit={Commit} entries={Entries.Count}" +
        (Reject ? $" reject hint={RejectHint}" : "") + (Snapshot is null ? "" : $" snapshot@{Snapshot.Metadata.Index}");

    private const byte FlagReject = 1, FlagSnapshot = 2;

    /// <summary>Layout: version byte 1, type byte, flags byte (1 = reject, 2 = has snapshot), varints To, From,
    /// Term, LogTerm, Index, Commit, RejectHint, context (varint length + bytes), entry count then per entry
    /// Term, Index, type byte, data; then the snapshot if flagged: Index, Term, voters, learners (count + ids), data.</summary>
    public byte[] Encode()
    {
        var writer = new WireWriter();
        writer.WriteByte(1);
        writer.WriteByte((byte)Type);
        writer.WriteByte((byte)((Reject ? FlagReject : 0) | (Snapshot is null ? 0 : FlagSnapshot)));
        foreach (var value in (ReadOnlySpan<ulong>)[To, From, Term, LogTerm, Index, Commit, RejectHint]) writer.WriteVarint(value);
        writer.WriteBytes(Context.Span);
        writer.WriteVarint((ulong)Entries.Count);
        foreach (var entry in Entries)
        {
            writer.WriteVarint(entry.Term);
            writer.WriteVarint(entry.Index);
            writer.WriteByte((byte)entry.Type);
            writer.WriteBytes(entry.Data.Span);
        }
        if (Snapshot is not null) WriteSnapshot(writer, Snapshot);
        return writer.ToArray();
    }

    private static void WriteSnapshot(WireWriter writer, Snapshot snapshot)
    {
        writer.WriteVarint(snapshot.Metadata.Index);
        writer.WriteVarint(snapshot.Metadata.Term);
        foreach (var ids in new[] { snapshot.Metadata.ConfState.Voters, snapshot.Metadata.ConfState.Learners })
        {
            writer.WriteVarint((ulong)ids.Count);
            foreach (var id in ids) writer.WriteVarint(id);
        }
        writer.WriteBytes(snapshot.Data.Span);
    }

    /// <summary>Throws <see cref="FormatException"/> on anything malformed. The message's bytes (context, entries'
    /// data, snapshot data) are copied out of <paramref name="data"/>.</summary>
    public static Message Decode(ReadOnlySpan<byte> data) => Decode(data, ReadOnlyMemory<byte>.Empty, slice: false);

    /// <summary>As <see cref="Decode(ReadOnlySpan{byte})"/>, with the entries' data and the snapshot's as slices of
    /// <paramref name="data"/> instead of copies: for a received message whose buffer is the message's own and never
    /// changes (a follower then keeps one buffer per append instead of one array per entry).</summary>
    public static Message Decode(ReadOnlyMemory<byte> data) => Decode(data.Span, data, slice: true);

    private static Message Decode(ReadOnlySpan<byte> data, ReadOnlyMemory<byte> memory, bool slice)
    {
        var reader = new WireReader(data);
        if (reader.ReadByte() != 1) throw new FormatException("unknown raft message version");
        var type = reader.ReadByte();
        if (type > (byte)MessageType.ReadIndexResponse) throw new FormatException($"unknown raft message type {type}");
        var flags = reader.ReadByte();
        var message = new Message
        {
            Type = (MessageType)type, Reject = (flags & FlagReject) != 0,
            To = reader.ReadVarint(), From = reader.ReadVarint(), Term = reader.ReadVarint(), LogTerm = reader.ReadVarint(),
            Index = reader.ReadVarint(), Commit = reader.ReadVarint(), RejectHint = reader.ReadVarint(),
            Context = reader.ReadBytes(),
        };
        var entries = new Entry[ReadCount(ref reader)];
        for (var i = 0; i < entries.Length; i++)
        {
            var term = reader.ReadVarint();
            var index = reader.ReadVarint();
            var entryType = reader.ReadByte();
            if (entryType > (byte)EntryType.ConfChange) throw new FormatException($"unknown entry type {entryType}");
            entries[i] = new Entry(term, index, (EntryType)entryType, slice ? reader.ReadSlice(memory) : reader.ReadBytes());
        }
        var snapshot = (flags & FlagSnapshot) != 0 ? ReadSnapshot(ref reader, memory, slice) : null;
        if (!reader.AtEnd) throw new FormatException("trailing bytes after raft message");
        return message with { Entries = entries, Snapshot = snapshot };
    }

    private static Snapshot ReadSnapshot(ref WireReader reader, ReadOnlyMemory<byte> memory, bool slice)
    {
        var index = reader.ReadVarint();
        var term = reader.ReadVarint();
        var voters = ReadIds(ref reader);
        var learners = ReadIds(ref reader);
        return new Snapshot(new SnapshotMetadata(index, term, new ConfState(voters, learners)), slice ? reader.ReadSlice(memory) : reader.ReadBytes());
    }

    private static ulong[] ReadIds(ref WireReader reader)
    {
        var ids = new ulong[ReadCount(ref reader)];
        for (var i = 0; i < ids.Length; i++) ids[i] = reader.ReadVarint();
        return ids;
    }

    private static int ReadCount(ref WireReader reader)
    {
        var count = reader.ReadVarint();
        // Every counted item takes at least one byte: a larger count is malformed (and must not allocate).
        if (count > (ulong)reader.Remaining) throw new FormatException("count beyond the end of the raft message");
        return (int)count;
    }
}
