using System.Runtime.CompilerServices;

namespace HttpKv.Mvcc;

/// <summary>The fields of a stored <c>mvccpb.KeyValue</c> that the key index needs, read straight from its encoding.
/// Rebuilding the index at open visits every revision: parsing whole messages would copy every value (a million
/// 256-byte values are 256 MB of garbage) only to drop it.</summary>
internal readonly ref struct StoredKeyValue
{
    public ReadOnlySpan<byte> Key { get; private init; }
    public long CreateRevision { get; private init; }
    public long Version { get; private init; }

    private const uint KeyTag = 1 << 3 | 2;            // bytes key = 1
    private const uint CreateRevisionTag = 2 << 3;     // int64 create_revision = 2
    private const uint VersionTag = 4 << 3;            // int64 version = 4

    /// <summary>Reads key, create_revision and version; skips every other field (mod_revision, value, lease,
    /// unknown ones). Throws <see cref="InvalidDataException"/> on a malformed encoding (its checksum held, so a writer wrote it so).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static StoredKeyValue Read(ReadOnlySpan<byte> encoded)
    {
        ReadOnlySpan<byte> key = default;
        long createRevision = 0, version = 0;
        var position = 0;
        while (position < encoded.Length)
        {
            var tag = (uint)ReadVarint(encoded, ref position);
            switch (tag & 7)
            {
                case 0:
                    var number = (long)ReadVarint(encoded, ref position);
                    if (tag == CreateRevisionTag) createRevision = number;
                    else if (tag == VersionTag) version = number;
                    break;
                case 2:
                    var length = (int)ReadVarint(encoded, ref position);
                    if (length < 0 || length > encoded.Length - position) throw Malformed();
                    if (tag == KeyTag) key = encoded.Slice(position, length);
                    position += length;
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    throw Malformed();
            }
        }
        if (position != encoded.Length) throw Malformed();
        return new StoredKeyValue { Key = key, CreateRevision = createRevision, Version = version };
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> encoded, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= encoded.Length) throw Malformed();
            var b = encoded[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Malformed();
    }

    private static InvalidDataException Malformed() => new("a stored KeyValue is malformed");
}
