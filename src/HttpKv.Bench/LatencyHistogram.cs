namespace HttpKv.Bench;

/// <summary>A log-linear histogram of latencies in nanoseconds: exact below 128 ns, then 64 linear buckets per power
/// of two, so a bucket is at most 1/64 of its value wide and the reported midpoint is within 0.8% of any value in it.
/// Recording is an array increment (no allocation, no lock): each client or stream reader owns one, and they are merged
/// at the end. Min, max and the sum are kept exactly.</summary>
public sealed class LatencyHistogram
{
    private const int LinearLimit = 128;
    private const int SubBuckets = 64;
    private const int SubBucketBits = 6;
    private readonly long[] counts = new long[LinearLimit + (64 - SubBucketBits) * SubBuckets];

    public long Count { get; private set; }
    public long MinNs { get; private set; } = long.MaxValue;
    public long MaxNs { get; private set; }
    private double sumNs;

    public void Record(long valueNs)
    {
        if (valueNs < 0) valueNs = 0;
        counts[IndexOf(valueNs)]++;
        Count++;
        sumNs += valueNs;
        if (valueNs < MinNs) MinNs = valueNs;
        if (valueNs > MaxNs) MaxNs = valueNs;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < counts.Length; i++) counts[i] += other.counts[i];
        Count += other.Count;
        sumNs += other.sumNs;
        if (other.Count == 0) return;
        MinNs = Math.Min(MinNs, other.MinNs);
        MaxNs = Math.Max(MaxNs, other.MaxNs);
    }

    public double MeanNs => Count == 0 ? 0 : sumNs / Count;

    /// <summary>The value at or below which <paramref name="percent"/>% of the recorded values lie (bucket midpoint,
    /// clamped to the exact min and max).</summary>
    public long PercentileNs(double percent)
    {
        if (Count == 0) return 0;
        var rank = Math.Max(1, (long)Math.Ceiling(percent / 100 * Count));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank) return Math.Clamp(MidpointOf(i), MinNs, MaxNs);
        }
        return MaxNs;
    }

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit) return (int)value;
        var highestBit = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value); // >= 7
        var shift = highestBit - SubBucketBits; // >= 1; value >> shift is in [64, 128)
        return LinearLimit + (shift - 1) * SubBuckets + (int)((value >> shift) - SubBuckets);
    }

    internal static long MidpointOf(int index)
    {
        if (index < LinearLimit) return index;
        var shift = (index - LinearLimit) / SubBuckets + 1;
        var mantissa = (index - LinearLimit) % SubBuckets + SubBuckets;
        return ((long)mantissa << shift) + (1L << shift) / 2;
    }
}
