namespace HttpKv.Server.Compaction;

/// <summary>Which revision periodic auto-compaction may compact to: the member samples its revision every tenth of
/// the retention period; the newest sample at least one period old is history nobody asked to keep. Holds at most
/// <see cref="MaxSamples"/> samples.</summary>
public sealed class PeriodicCompactionSchedule(TimeSpan period)
{
    public const int MaxSamples = 12;
    private readonly Queue<(DateTimeOffset Time, long Revision)> samples = new();

    public TimeSpan SampleInterval { get; } = TimeSpan.FromTicks(Math.Max(period.Ticks / 10, TimeSpan.TicksPerMillisecond * 100));

    /// <summary>Records the revision seen at <paramref name="now"/> and returns the revision to compact to, if any.</summary>
    public long? Observe(DateTimeOffset now, long revision)
    {
        samples.Enqueue((now, revision));
        long? target = null;
        while (samples.Count > 0 && now - samples.Peek().Time >= period) target = samples.Dequeue().Revision;
        while (samples.Count > MaxSamples) samples.Dequeue();
        return target;
    }
}
