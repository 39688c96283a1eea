using System.Buffers.Binary;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace HttpKv.Storage.Wal;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and etcd's WAL.
/// Uses the SSE4.2 or ARMv8 CRC instructions when present and a byte table otherwise.
/// </summary>
public static class Crc32C
{
    private const uint ReflectedPolynomial = 0x82F63B78u;
    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    /// <summary>Extends <paramref name="crc"/>, the CRC-32C of some bytes (0 for none), to the CRC-32C of those bytes
    /// followed by <paramref name="data"/>: for hashing a sequence piece by piece.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    /// <summary>The CRC-32C of <paramref name="data"/> computed with the table only (for tests and comparison).</summary>
    public static uint ComputeWithTable(ReadOnlySpan<byte> data) => ~UpdateWithTable(~0u, data);

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong wide = crc;
            while (data.Length >= 8)
            {
                wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            crc = (uint)wide;
        }
        else if (Crc32.Arm64.IsSupported)
        {
            while (data.Length >= 8)
            {
                crc = Crc32.Arm64.ComputeCrc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
        }

        if (Sse42.IsSupported)
        {
            foreach (byte value in data)
            {
                crc = Sse42.Crc32(crc, value);
            }
            return crc;
        }
        if (Crc32.IsSupported)
        {
            foreach (byte value in data)
            {
                crc = Crc32.ComputeCrc32C(crc, value);
            }
            return crc;
        }
        return UpdateWithTable(crc, data);
    }

    private static uint UpdateWithTable(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] table = Table;
        foreach (byte value in data)
        {
            crc = table[(byte)(crc ^ value)] ^ (crc >> 8);
        }
        return crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint entry = i;
            for (int bit = 0; bit < 8; bit++)
            {
                entry = (entry & 1) != 0 ? (entry >> 1) ^ ReflectedPolynomial : entry >> 1;
            }
            table[i] = entry;
        }
        return table;
    }
}
