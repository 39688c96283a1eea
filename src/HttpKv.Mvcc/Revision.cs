using System.Buffers.Binary;

namespace HttpKv.Mvcc;

/// <summary>
/// A revision: <see cref="Main"/> counts write requests (one per request that changed something),
/// <see cref="Sub"/> counts changes inside that request (a txn's puts and deletes, 0, 1, 2, …).
/// </summary>
public readonly record struct Revision(long Main, long Sub) : IComparable<Revision>
{
    /// <summary>Bytes of a revision key in the "key" bucket: 8-byte big-endian main, '_', 8-byte big-endian sub.</summary>
    public const int EncodedLength = 17;

    /// <summary>A tombstone (delete) key is the revision key followed by 't', as in etcd.</summary>
    public const int TombstoneEncodedLength = 18;

    public int CompareTo(Revision other) =>
        Main != other.Main ? Main.CompareTo(other.Main) : Sub.CompareTo(other.Sub);

    public static bool operator <(Revision left, Revision right) => left.CompareTo(right) < 0;
    public static bool operator >(Revision left, Revision right) => left.CompareTo(right) > 0;
    public static bool operator <=(Revision left, Revision right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Revision left, Revision right) => left.CompareTo(right) >= 0;

    /// <summary>Writes the backend key; <paramref name="destination"/> must hold 17 bytes (18 for a tombstone).</summary>
    public int Encode(Span<byte> destination, bool tombstone = false)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, Main);
        destination[8] = (byte)'_';
        BinaryPrimitives.WriteInt64BigEndian(destination[9..], Sub);
        if (!tombstone) return EncodedLength;
        destination[17] = (byte)'t';
        return TombstoneEncodedLength;
    }

    public static Revision Decode(ReadOnlySpan<byte> source, out bool tombstone)
    {
        if (source.Length is not (EncodedLength or TombstoneEncodedLength) || source[8] != (byte)'_')
        {
            throw new InvalidDataException($"not a revision key: {Convert.ToHexString(source)}");
        }
        tombstone = source.Length == TombstoneEncodedLength && source[17] == (byte)'t';
        return new Revision(BinaryPrimitives.ReadInt64BigEndian(source), BinaryPrimitives.ReadInt64BigEndian(source[9..]));
    }

    public override string ToString() => $"{Main}.{Sub}";
}
