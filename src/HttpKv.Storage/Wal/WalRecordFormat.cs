using System.Buffers.Binary;
using HttpKv.Raft;

namespace HttpKv.Storage.Wal;

/// <summary>The kinds of WAL record (the type byte).</summary>
internal enum WalRecordType : byte
{
    Entry = 1,
    HardState = 2,
    Snapshot = 3,
}

/// <summary>The outcome of reading one record at an offset.</summary>
internal enum WalReadStatus
{
    /// <summary>A whole record with a matching CRC.</summary>
    Valid,

    /// <summary>The file ends inside the header or inside the declared body.</summary>
    Short,

    /// <summary>A whole record whose CRC, type or payload size is wrong.</summary>
    Damaged,
}

/// <summary>One decoded record; <see cref="Payload"/> is a slice of the segment's bytes.</summary>
internal readonly record struct WalRecord(WalRecordType Type, ReadOnlyMemory<byte> Payload, int RecordLength);

/// <summary>
/// Encoding and decoding of one record (the layout is docs/wal.md's "Record layout"):
/// <c>length u32 LE | crc32c u32 LE | type u8 | payload</c>, where length and CRC both cover <c>type + payload</c>.
/// </summary>
internal static class WalRecordFormat
{
    public const int HeaderBytes = 8;
    /// <summary>An entry's payload before its data: term, index and the entry's own type byte.</summary>
    public const int EntryFixedPayloadBytes = 17;
    public const int HardStatePayloadBytes = 24;
    public const int HardStateRecordBytes = HeaderBytes + 1 + HardStatePayloadBytes;
    public const int SnapshotPayloadBytes = 16;
    public const int SnapshotRecordBytes = HeaderBytes + 1 + SnapshotPayloadBytes;

    /// <summary>The largest body (type + payload) accepted; protects reads from absurd lengths.</summary>
    public const int MaxBodyBytes = int.MaxValue - HeaderBytes;

    public static long EntryRecordBytes(Entry entry) => HeaderBytes + 1L + EntryFixedPayloadBytes + entry.Data.Length;

    /// <summary>Writes an entry record at the start of <paramref name="destination"/>; returns its length.</summary>
    public static int WriteEntry(Span<byte> destination, in Entry entry)
    {
        int bodyBytes = 1 + EntryFixedPayloadBytes + entry.Data.Length;
        Span<byte> body = destination.Slice(HeaderBytes, bodyBytes);
        body[0] = (byte)WalRecordType.Entry;
        BinaryPrimitives.WriteUInt64LittleEndian(body[1..], entry.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(body[9..], entry.Index);
        body[17] = (byte)entry.Type;
        entry.Data.Span.CopyTo(body[18..]);
        WriteHeader(destination, body);
        return HeaderBytes + bodyBytes;
    }

    /// <summary>Writes a hard-state record at the start of <paramref name="destination"/>; returns its length.</summary>
    public static int WriteHardState(Span<byte> destination, HardState state)
    {
        Span<byte> body = destination.Slice(HeaderBytes, 1 + HardStatePayloadBytes);
        body[0] = (byte)WalRecordType.HardState;
        BinaryPrimitives.WriteUInt64LittleEndian(body[1..], state.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(body[9..], state.Vote);
        BinaryPrimitives.WriteUInt64LittleEndian(body[17..], state.Commit);
        WriteHeader(destination, body);
        return HardStateRecordBytes;
    }

    /// <summary>Writes a snapshot-marker record (index, term) at the start of <paramref name="destination"/>.</summary>
    public static int WriteSnapshot(Span<byte> destination, WalSnapshot snapshot)
    {
        Span<byte> body = destination.Slice(HeaderBytes, 1 + SnapshotPayloadBytes);
        body[0] = (byte)WalRecordType.Snapshot;
        BinaryPrimitives.WriteUInt64LittleEndian(body[1..], snapshot.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(body[9..], snapshot.Term);
        WriteHeader(destination, body);
        return SnapshotRecordBytes;
    }

    private static void WriteHeader(Span<byte> destination, ReadOnlySpan<byte> body)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32C.Compute(body));
    }

    /// <summary>Reads the record that starts at <paramref name="offset"/> of <paramref name="segment"/>.</summary>
    public static WalReadStatus TryRead(ReadOnlyMemory<byte> segment, int offset, out WalRecord record)
    {
        record = default;
        ReadOnlySpan<byte> rest = segment.Span[offset..];
        if (rest.Length < HeaderBytes)
        {
            return WalReadStatus.Short;
        }
        uint bodyBytes = BinaryPrimitives.ReadUInt32LittleEndian(rest);
        if (bodyBytes == 0 || bodyBytes > MaxBodyBytes)
        {
            return WalReadStatus.Damaged;
        }
        if (bodyBytes > rest.Length - HeaderBytes)
        {
            return WalReadStatus.Short;
        }
        ReadOnlySpan<byte> body = rest.Slice(HeaderBytes, (int)bodyBytes);
        var type = (WalRecordType)body[0];
        int payloadBytes = body.Length - 1;
        bool sizeFits = type switch
        {
            WalRecordType.Entry => payloadBytes >= EntryFixedPayloadBytes && IsKnownEntryType(body[EntryFixedPayloadBytes]),
            WalRecordType.HardState => payloadBytes == HardStatePayloadBytes,
            WalRecordType.Snapshot => payloadBytes == SnapshotPayloadBytes,
            _ => false,
        };
        if (!sizeFits || Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]))
        {
            return WalReadStatus.Damaged;
        }
        int recordLength = HeaderBytes + (int)bodyBytes;
        record = new WalRecord(type, segment.Slice(offset + HeaderBytes + 1, payloadBytes), recordLength);
        return WalReadStatus.Valid;
    }

    /// <summary>Raft's entry types; a record holding another was written by another format and is not replayed.</summary>
    private static bool IsKnownEntryType(byte type) => type is (byte)EntryType.Normal or (byte)EntryType.ConfChange;

    public static Entry DecodeEntry(ReadOnlyMemory<byte> payload)
    {
        ReadOnlySpan<byte> span = payload.Span;
        return new Entry(
            BinaryPrimitives.ReadUInt64LittleEndian(span),
            BinaryPrimitives.ReadUInt64LittleEndian(span[8..]),
            (EntryType)span[16],
            payload[EntryFixedPayloadBytes..]);
    }

    public static HardState DecodeHardState(ReadOnlySpan<byte> payload) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(payload),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[16..]));

    public static WalSnapshot DecodeSnapshot(ReadOnlySpan<byte> payload) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(payload),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]));
}
