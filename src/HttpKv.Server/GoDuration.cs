using System.Globalization;
using System.Text.RegularExpressions;

namespace HttpKv.Server;

/// <summary>Go's <c>time.ParseDuration</c> for the positive durations etcd's flags take (<c>30m</c>, <c>1h30m</c>, <c>500ms</c>).</summary>
public static partial class GoDuration
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var match = Pattern().Match(text ?? "");
        if (!match.Success) return false;
        var ticks = 0.0;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var unitStart = part.Value.IndexOfAny(['n', 'u', 'µ', 'm', 's', 'h']);
            var number = double.Parse(part.Value[..unitStart], CultureInfo.InvariantCulture);
            ticks += number * UnitTicks(part.Value[unitStart..]);
        }
        duration = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var duration) ? duration : throw new ArgumentException($"invalid duration \"{text}\": expected e.g. 5m, 1h30m or 500ms");

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
    private static partial Regex Pattern();
}
