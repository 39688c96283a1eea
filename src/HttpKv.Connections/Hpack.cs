using System.Buffers;
using System.Text;

namespace HttpKv.Connections;

/// <summary>Just enough HPACK (RFC 7541) to rewrite one header of a request's header block: representations are
/// walked one by one and copied as they are, except the ones the caller's rewrite changes, which are re-encoded as
/// plain (non-Huffman) literals with the same indexing. The decoder's dynamic table is mirrored, as the receiving
/// decoder will hold it, so names referenced by index are known.
///
/// A rewrite may only make a value shorter: then every entry both tables hold sits at the same index on both sides
/// (indices count from the newest entry), and the receiver merely evicts later; entries only it still holds are
/// never referenced by the sender.</summary>
public sealed class HpackRewriter(Func<string, string, string?> rewrite, int maxTableSize = HpackRewriter.DefaultTableSize)
{
    /// <summary>SETTINGS_HEADER_TABLE_SIZE's initial value, which Kestrel keeps.</summary>
    public const int DefaultTableSize = 4096;
    private const int EntryOverhead = 32;

    /// <summary>The names of the static table (RFC 7541 Appendix A), index 1 to 61.</summary>
    private static readonly string[] StaticNames =
    [
        ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status", ":status",
        ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept",
        "access-control-allow-origin", "age", "allow", "authorization", "cache-control", "content-disposition",
        "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type",
        "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
        "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
        "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie",
        "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
    ];

    /// <summary>The receiver's dynamic table, newest first: (name, value size in octets).</summary>
    private readonly LinkedList<(string Name, int Size)> table = new();
    private readonly int limit = maxTableSize;
    private int capacity = maxTableSize;
    private int size;

    /// <summary>Rewrites one complete header block. <paramref name="changed"/> says whether any value changed; when
    /// not, the block is returned as it was.</summary>
    public byte[] Rewrite(ReadOnlySpan<byte> block, out bool changed)
    {
        changed = false;
        var output = new ArrayBufferWriter<byte>(Math.Max(16, block.Length));
        var reader = new HpackReader(block);
        while (!reader.End)
        {
            var start = reader.Position;
            var first = reader.Peek();
            if ((first & 0x80) != 0) // indexed field: the table is unchanged
            {
                reader.ReadInteger(7);
                output.Write(block[start..reader.Position]);
                continue;
            }
            if ((first & 0xE0) == 0x20) // dynamic table size update
            {
                var newCapacity = reader.ReadInteger(5);
                if (newCapacity > limit) throw new HpackException($"table size update {newCapacity} above the limit {limit}");
                capacity = (int)newCapacity;
                Evict(0);
                output.Write(block[start..reader.Position]);
                continue;
            }
            var indexing = (first & 0xC0) == 0x40;
            var prefixBits = indexing ? 6 : 4;
            var nameIndex = reader.ReadInteger(prefixBits);
            var nameEnd = reader.Position;
            var name = nameIndex == 0 ? reader.ReadString() : NameAt(nameIndex);
            var valueStart = reader.Position;
            var value = reader.ReadString();
            var replacement = rewrite(name, value);
            if (replacement is null || replacement == value)
            {
                output.Write(block[start..reader.Position]);
                if (indexing) Add(name, Encoding.Latin1.GetByteCount(value));
                continue;
            }
            if (replacement.Length > value.Length) throw new ArgumentException("a rewrite may only shorten a value");
            changed = true;
            output.Write(nameIndex == 0 ? block[start..valueStart] : block[start..nameEnd]);
            WriteString(output, replacement);
            if (indexing) Add(name, Encoding.Latin1.GetByteCount(replacement));
        }
        return changed ? output.WrittenSpan.ToArray() : block.ToArray();
    }

    private string NameAt(long index)
    {
        if (index <= StaticNames.Length) return StaticNames[index - 1];
        var position = index - StaticNames.Length - 1;
        if (position >= table.Count) throw new HpackException($"index {index} is outside the dynamic table");
        return table.ElementAt((int)position).Name;
    }

    private void Add(string name, int valueSize)
    {
        var entrySize = Encoding.Latin1.GetByteCount(name) + valueSize + EntryOverhead;
        Evict(entrySize);
        if (entrySize > capacity) return; // RFC 7541 §4.4: an entry larger than the table empties it and is not added
        table.AddFirst((name, entrySize));
        size += entrySize;
    }

    private void Evict(int room)
    {
        while (table.Count > 0 && size + room > capacity)
        {
            size -= table.Last!.Value.Size;
            table.RemoveLast();
        }
    }

    private static void WriteString(ArrayBufferWriter<byte> output, string value)
    {
        var bytes = Encoding.Latin1.GetBytes(value);
        WriteInteger(output, bytes.Length, 7, 0x00); // H = 0: raw octets
        output.Write(bytes);
    }

    /// <summary>An integer with an N-bit prefix (RFC 7541 §5.1), the prefix's high bits taken from <paramref name="flags"/>.</summary>
    public static void WriteInteger(IBufferWriter<byte> output, long value, int prefixBits, byte flags)
    {
        var max = (1 << prefixBits) - 1;
        var span = output.GetSpan(11);
        var written = 0;
        if (value < max)
        {
            span[written++] = (byte)(flags | value);
        }
        else
        {
            span[written++] = (byte)(flags | max);
            value -= max;
            while (value >= 0x80)
            {
                span[written++] = (byte)(value % 0x80 + 0x80);
                value /= 0x80;
            }
            span[written++] = (byte)value;
        }
        output.Advance(written);
    }
}

/// <summary>A header block that is not valid HPACK; the connection carrying it cannot go on.</summary>
public sealed class HpackException(string message) : Exception(message);

/// <summary>Reads HPACK primitives from one header block.</summary>
internal ref struct HpackReader(ReadOnlySpan<byte> block)
{
    /// <summary>Header names and values above this are refused rather than decoded (Kestrel's own header limit is 32 KB).</summary>
    private const int MaxStringLength = 64 * 1024;
    private readonly ReadOnlySpan<byte> block = block;

    public int Position { get; private set; }
    public readonly bool End => Position >= block.Length;

    public readonly byte Peek() => block[Position];

    public long ReadInteger(int prefixBits)
    {
        if (End) throw new HpackException("header block ends inside an integer");
        var max = (1 << prefixBits) - 1;
        long value = block[Position++] & max;
        if (value < max) return value;
        for (var shift = 0; ; shift += 7)
        {
            if (End) throw new HpackException("header block ends inside an integer");
            if (shift > 28) throw new HpackException("integer too large");
            var next = block[Position++];
            value += (long)(next & 0x7F) << shift;
            if ((next & 0x80) == 0) return value;
        }
    }

    public string ReadString()
    {
        if (End) throw new HpackException("header block ends before a string");
        var huffman = (block[Position] & 0x80) != 0;
        var length = ReadInteger(7);
        if (length > MaxStringLength || length > block.Length - Position) throw new HpackException("string longer than its header block");
        var octets = block.Slice(Position, (int)length);
        Position += (int)length;
        return huffman ? HpackHuffman.Decode(octets) : Encoding.Latin1.GetString(octets);
    }
}
