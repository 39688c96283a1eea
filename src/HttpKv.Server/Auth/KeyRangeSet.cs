using Google.Protobuf;

namespace HttpKv.Server.Auth;

/// <summary>A union of key intervals, as etcd's range-permission cache keeps it for one user and one kind of access.
/// Intervals use etcd's request encoding: an empty end is the single key; an end of <c>"\0"</c> is every key from
/// the start on; otherwise <c>[start, end)</c>. Built once per auth state, then read without locks.</summary>
public sealed class KeyRangeSet
{
    /// <summary>Disjoint, sorted, merged; a null end is unbounded.</summary>
    private readonly (byte[] Start, byte[]? End)[] intervals;

    private KeyRangeSet((byte[], byte[]?)[] intervals) => this.intervals = intervals;

    public static KeyRangeSet Empty { get; } = new([]);

    public static KeyRangeSet Of(IEnumerable<(ByteString Key, ByteString RangeEnd)> ranges)
    {
        var sorted = ranges.Select(range => ToInterval(range.Key.Span, range.RangeEnd.Span))
            .OrderBy(interval => interval.Start, ByteComparer.Instance).ToList();
        var merged = new List<(byte[] Start, byte[]? End)>();
        foreach (var interval in sorted)
        {
            if (merged.Count > 0 && Reaches(merged[^1].End, interval.Start))
            {
                var last = merged[^1];
                merged[^1] = (last.Start, Max(last.End, interval.End));
            }
            else
            {
                merged.Add(interval);
            }
        }
        return new KeyRangeSet([.. merged]);
    }

    /// <summary>Whether every key of the request range <c>[key, rangeEnd)</c> (etcd's encoding) lies in the set.</summary>
    public bool Contains(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd)
    {
        var (start, end) = ToInterval(key, rangeEnd);
        // The last interval starting at or before the request's start is the only one that can hold it whole,
        // because intervals are merged: a gap between two of them is a key neither holds.
        int low = 0, high = intervals.Length - 1, found = -1;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            if (intervals[middle].Start.AsSpan().SequenceCompareTo(start) <= 0) { found = middle; low = middle + 1; }
            else high = middle - 1;
        }
        if (found < 0) return false;
        var holder = intervals[found].End;
        if (holder is null) return true;
        if (end is null) return false;
        return end.AsSpan().SequenceCompareTo(holder) <= 0;
    }

    private static (byte[] Start, byte[]? End) ToInterval(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd)
    {
        if (rangeEnd.Length == 0)
        {
            var next = new byte[key.Length + 1]; // the smallest key after `key`
            key.CopyTo(next);
            return (key.ToArray(), next);
        }
        if (rangeEnd is [0]) return (key.ToArray(), null);
        return (key.ToArray(), rangeEnd.ToArray());
    }

    private static bool Reaches(byte[]? end, byte[] start) => end is null || start.AsSpan().SequenceCompareTo(end) <= 0;

    private static byte[]? Max(byte[]? a, byte[]? b) =>
        a is null || b is null ? null : a.AsSpan().SequenceCompareTo(b) >= 0 ? a : b;

    private sealed class ByteComparer : IComparer<byte[]>
    {
        public static readonly ByteComparer Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
