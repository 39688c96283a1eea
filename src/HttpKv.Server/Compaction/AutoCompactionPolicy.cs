using System.Globalization;

namespace HttpKv.Server.Compaction;

/// <summary>etcd's <c>--auto-compaction-mode</c> and <c>--auto-compaction-retention</c>:
/// <c>periodic</c> keeps the history of the last <see cref="Period"/> (the retention is a Go duration such as
/// <c>30m</c>, or a bare number of hours); <c>revision</c> keeps the last <see cref="Revisions"/> revisions.
/// A retention of 0 turns auto-compaction off.</summary>
public sealed record AutoCompactionPolicy(TimeSpan Period, long Revisions)
{
    public bool Enabled => Period > TimeSpan.Zero || Revisions > 0;

    public static AutoCompactionPolicy Parse(string mode, string retention) => mode switch
    {
        "periodic" => new(ParsePeriod(retention), 0),
        "revision" => long.TryParse(retention, NumberStyles.None, CultureInfo.InvariantCulture, out var revisions)
            ? new(TimeSpan.Zero, revisions)
            : throw new ArgumentException($"invalid auto-compaction-retention \"{retention}\" for mode revision: expected a number of revisions"),
        _ => throw new ArgumentException($"unknown auto-compaction-mode \"{mode}\" (expected periodic or revision)"),
    };

    private static TimeSpan ParsePeriod(string retention)
    {
        if (long.TryParse(retention, NumberStyles.None, CultureInfo.InvariantCulture, out var hours)) return TimeSpan.FromHours(hours);
        return GoDuration.TryParse(retention, out var period) ? period
            : throw new ArgumentException($"invalid auto-compaction-retention \"{retention}\": expected a duration such as 1h30m or a number of hours");
    }
}
