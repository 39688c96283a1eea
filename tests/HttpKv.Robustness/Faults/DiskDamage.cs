using System.Buffers.Binary;
using System.Text.RegularExpressions;

namespace HttpKv.Robustness.Faults;

/// <summary>Damage to a stopped member's files, as a bad disk, a bad copy or an operator's mistake leaves it: flipped
/// bytes, cut files, missing files. Also reads just enough of LMDB's page layout (LMDB 1.0: 24-byte page header
/// <c>pgno u64 | txnid u64 | pad u16 | flags u16 | lower u16 | upper u16</c>) to aim at a leaf page.</summary>
public static partial class DiskDamage
{
    public const int LmdbPageSize = 4096;
    private const int LmdbLeafFlag = 0x02;

    public static void FlipByte(string path, long offset, byte mask = 0x01)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        if (offset < 0 || offset >= file.Length) throw new ArgumentOutOfRangeException(nameof(offset), $"{path} is {file.Length} bytes; cannot flip byte {offset}");
        file.Position = offset;
        var value = (byte)file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ mask));
        file.Flush(flushToDisk: true);
    }

    public static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(length);
        file.Flush(flushToDisk: true);
    }

    /// <summary>Where a WAL segment's records end: its length without the zeros the writer keeps ahead of them
    /// (a killed member's last segment ends with them), so that damage aimed at "the middle" or "the last record"
    /// lands in records.</summary>
    public static long WalRecordsEnd(string path) => File.ReadAllBytes(path).AsSpan().LastIndexOfAnyExcept((byte)0) + 1;

    /// <summary>Every offset where <paramref name="pattern"/> occurs in the file.</summary>
    public static IReadOnlyList<long> FindAll(string path, ReadOnlySpan<byte> pattern)
    {
        var bytes = File.ReadAllBytes(path);
        var found = new List<long>();
        for (var at = bytes.AsSpan().IndexOf(pattern); at >= 0;)
        {
            found.Add(at);
            var next = bytes.AsSpan(at + 1).IndexOf(pattern);
            at = next < 0 ? -1 : at + 1 + next;
        }
        return found;
    }

    /// <summary>The WAL's segment files in sequence order (names are <c>{sequence:x16}-{firstIndex:x16}.wal</c>).</summary>
    public static IReadOnlyList<string> WalSegments(string walDirectory) =>
        Directory.EnumerateFiles(walDirectory, "*.wal").Where(path => SegmentName().IsMatch(Path.GetFileName(path))).Order(StringComparer.Ordinal).ToList();

    /// <summary>Offsets of the LMDB leaf pages whose live node area (at or after the page's <c>upper</c>) holds
    /// <paramref name="pattern"/>; stale copies of a page (copy-on-write leaves them behind) are included when the
    /// pattern is in their node area too.</summary>
    public static IReadOnlyList<long> LmdbLeafPagesHolding(string path, ReadOnlySpan<byte> pattern)
    {
        var bytes = File.ReadAllBytes(path);
        var pages = new List<long>();
        for (long page = 2; (page + 1) * LmdbPageSize <= bytes.Length; page++)
        {
            var span = bytes.AsSpan((int)(page * LmdbPageSize), LmdbPageSize);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(span[18..]);
            var upper = BinaryPrimitives.ReadUInt16LittleEndian(span[22..]);
            if ((flags & LmdbLeafFlag) == 0) continue;
            var at = span.IndexOf(pattern);
            if (at >= 0 && at >= upper) pages.Add(page * LmdbPageSize);
        }
        return pages;
    }

    /// <summary>The byte of a leaf page's header that holds the low byte of <c>lower</c> (where its node pointers end,
    /// i.e. how many entries it has).</summary>
    public const int LmdbLowerOffset = 20;

    /// <summary>The first byte of the magic number in meta page <paramref name="meta"/> (0 or 1).</summary>
    public static long LmdbMetaMagicOffset(int meta) => meta * (long)LmdbPageSize + 24;

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        foreach (var directory in Directory.EnumerateDirectories(from)) CopyDirectory(directory, Path.Combine(to, Path.GetFileName(directory)));
    }

    [GeneratedRegex("^[0-9a-f]{16}-[0-9a-f]{16}\\.wal$")]
    private static partial Regex SegmentName();
}
