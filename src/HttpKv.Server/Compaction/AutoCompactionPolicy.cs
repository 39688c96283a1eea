using System.Globalization;
using System.Text.RegularExpressions;

namespace HttpKv.Server.Compaction;

/// <summary>etcd's <c>--auto-compaction-mode</c> and <c>--auto-compaction-retention</c>:
/// <c>periodic</c> keeps the history of the last <see cref="Period"/> (the retention is a Go duration such as
/// <c>30m</c>, or a bare number of hours); <c>revision</c> keeps the last <see cref="Revisions"/> revisions.
/// A retention of 0 turns auto-compaction off.</summary>
public sealed partial record AutoCompactionPolicy(TimeSpan Period, long Revisions)
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
        var match = GoDuration().Match(retention);
        if (!match.Success) throw new ArgumentException($"invalid auto-compaction-retention \"{retention}\": expected a duration such as 1h30m or a number of hours");
        var ticks = 0.0;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var unitStart = part.Value.IndexOfAny(['n', 'u', 'µ', 'm', 's', 'h']);
            var number = double.Parse(part.Value[..unitStart], CultureInfo.InvariantCulture);
            ticks += number * UnitTicks(part.Value[unitStart..]);
        }
        return TimeSpan.FromTicks((long)ticks);
    }

    private static double UnitTicks(string unit) => unit switch
    {
        "ns" => TimeSpan.TicksPerMicrosecond / 1000.0,
        "us" or "µs" => TimeSpan.TicksPerMicrosecond,
        "ms" => TimeSpan.TicksPerMillisecond,
        "s" => TimeSpan.TicksPerSecond,
        "m" => TimeSpan.TicksPerMinute,
        _ => TimeSpan.TicksPerHour,
    };

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex GoDuration();
}
