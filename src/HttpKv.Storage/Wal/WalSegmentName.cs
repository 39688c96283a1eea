using System.Globalization;

namespace HttpKv.Storage.Wal;

/// <summary>
/// Segment file names, as etcd's: <c>{sequence:x16}-{firstIndex:x16}.wal</c>, where firstIndex is the
/// index the next entry had when the segment was created (LastIndex + 1).
/// </summary>
internal readonly record struct WalSegmentName(ulong Sequence, ulong FirstIndex)
{
    private const string Extension = ".wal";
    private const int HexDigits = 16;
    private const int NameLength = HexDigits + 1 + HexDigits + 4;

    public string FileName => $"{Sequence:x16}-{FirstIndex:x16}{Extension}";

    public static bool TryParse(string fileName, out WalSegmentName name)
    {
        name = default;
        if (fileName.Length != NameLength || fileName[HexDigits] != '-' || !fileName.EndsWith(Extension, StringComparison.Ordinal))
        {
            return false;
        }
        const NumberStyles hex = NumberStyles.AllowHexSpecifier;
        if (!ulong.TryParse(fileName.AsSpan(0, HexDigits), hex, CultureInfo.InvariantCulture, out ulong sequence)
            || !ulong.TryParse(fileName.AsSpan(HexDigits + 1, HexDigits), hex, CultureInfo.InvariantCulture, out ulong firstIndex))
        {
            return false;
        }
        name = new WalSegmentName(sequence, firstIndex);
        return true;
    }
}
