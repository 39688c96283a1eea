using System.Buffers;

namespace HttpKv.Raft;

/// <summary>Little helpers for the compact binary forms: unsigned LEB128 varints and length-prefixed bytes.</summary>
internal sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> buffer = new(64);

    public void WriteByte(byte value) => buffer.Write([value]);

    public void WriteVarint(ulong value)
    {
        Span<byte> span = stackalloc byte[10];
        var length = 0;
        while (value >= 0x80)
        {
            span[length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[length++] = (byte)value;
        buffer.Write(span[..length]);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes) => buffer.Write(bytes);

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        WriteVarint((ulong)bytes.Length);
        buffer.Write(bytes);
    }

    public byte[] ToArray() => buffer.WrittenSpan.ToArray();
}

internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> data = data;
    private int position;

    public readonly bool AtEnd => position == data.Length;
    public readonly int Remaining => data.Length - position;

    public byte ReadByte()
    {
        if (position >= data.Length) throw new FormatException("truncated raft message");
        return data[position++];
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = ReadByte();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("varint too long");
    }

    public int ReadLength()
    {
        var length = ReadVarint();
        if (length > (ulong)(data.Length - position)) throw new FormatException("length beyond the end of the raft message");
        return (int)length;
    }

    public byte[] ReadBytes()
    {
        var length = ReadLength();
        var bytes = data.Slice(position, length).ToArray();
        position += length;
        return bytes;
    }

    /// <summary>Length-prefixed bytes as a slice of <paramref name="source"/>, the memory this reader reads (no copy).</summary>
    public ReadOnlyMemory<byte> ReadSlice(ReadOnlyMemory<byte> source)
    {
        var length = ReadLength();
        var slice = source.Slice(position, length);
        position += length;
        return slice;
    }

    public byte[] ReadRest()
    {
        var bytes = data[position..].ToArray();
        position = data.Length;
        return bytes;
    }
}
