using System.Globalization;
using System.Net;
using System.Text;

namespace HttpKv.Robustness.Checking;

/// <summary>The operations on a key around a linearizability violation, as text (for the report) and as an HTML page
/// with one lane per client (<c>timeline.html</c> next to a failing run's history): each operation a bar from its call
/// to its return, the one no order could complete in red, the faults of that time as vertical lines.</summary>
public static class Timeline
{
    /// <summary>How far before the blocked operation's call and after its return the window reaches.</summary>
    private static readonly long Before = 2_000_000, After = 500_000;

    /// <summary>The operations of <paramref name="check"/>'s key that overlap the window around the blocked one.</summary>
    public static IReadOnlyList<Operation> Window(CheckResult check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (check.Operations is null) return [];
        if (check.Blocked is null) return check.Operations;
        var (from, to) = Bounds(check.Blocked);
        return [.. check.Operations.Where(op => op.Call <= to && op.Return >= from)];
    }

    private static (long From, long To) Bounds(Operation blocked) =>
        (blocked.Call - Before, (blocked.Return == long.MaxValue ? blocked.Call : blocked.Return) + After);

    /// <summary>The report's text: the blocked operation and what the key could hold when it returned, then the window.</summary>
    public static string Describe(CheckResult check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var text = new StringBuilder($"not linearizable on key {check.Key}");
        if (check.Blocked is not null)
            text.Append($": no order of the operations before it lets {check.Blocked} return (the key could hold {check.StateAtBlock?.Replace("\u0000", "∅", StringComparison.Ordinal)} there);");
        text.Append(" the operations around it:");
        foreach (var op in Window(check)) text.Append("\n  ").Append(op == check.Blocked ? "→ " : "").Append(op);
        return text.ToString();
    }

    /// <summary>The HTML page; <paramref name="faults"/> are the run's fault lines ("1234 ms: kill -9 m1 …").</summary>
    public static string Html(CheckResult check, IEnumerable<string> faults)
    {
        ArgumentNullException.ThrowIfNull(check);
        var window = Window(check);
        var (from, to) = check.Blocked is null
            ? (window.Min(op => op.Call), window.Max(op => op.Return == long.MaxValue ? op.Call : op.Return))
            : Bounds(check.Blocked);
        var span = Math.Max(1, to - from);
        const int width = 1400, lane = 26, left = 60;
        var clients = window.Select(op => op.Client).Distinct().Order().ToList();
        double X(long time) => left + (double)(Math.Clamp(time, from, to) - from) / span * (width - left - 10);
        var svg = new StringBuilder();
        var height = clients.Count * lane + 40;
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-family='monospace' font-size='11'>");
        foreach (var (client, row) in clients.Select((client, row) => (client, row)))
            svg.Append(CultureInfo.InvariantCulture, $"<text x='4' y='{row * lane + 30}'>c{client}</text>");
        foreach (var op in window)
        {
            var row = clients.IndexOf(op.Client);
            var x1 = X(op.Call);
            var x2 = Math.Max(x1 + 2, X(op.Return == long.MaxValue ? to : op.Return));
            var colour = op == check.Blocked ? "#f4a0a0" : op.Unknown ? "#dddddd" : op.Kind == OpKind.Get ? "#b8d4f0" : "#c4e6b8";
            var label = WebUtility.HtmlEncode(op.ToString());
            svg.Append(CultureInfo.InvariantCulture,
                $"<g><title>{label}</title><rect x='{x1:0.0}' y='{row * lane + 18}' width='{x2 - x1:0.0}' height='18' fill='{colour}' stroke='#555'{(op.Unknown ? " stroke-dasharray='4 2'" : "")}/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x='{x1 + 2:0.0}' y='{row * lane + 31}'>{WebUtility.HtmlEncode(Short(op))}</text></g>");
        }
        foreach (var fault in faults)
        {
            var ms = fault.Split(' ', 2)[0];
            if (!long.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var at) || at * 1000 < from || at * 1000 > to) continue;
            var x = X(at * 1000);
            svg.Append(CultureInfo.InvariantCulture,
                $"<g><title>{WebUtility.HtmlEncode(fault)}</title><line x1='{x:0.0}' y1='10' x2='{x:0.0}' y2='{height}' stroke='#d07000' stroke-width='2'/></g>");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x='{left}' y='12'>{from / 1000} ms</text><text x='{width - 90}' y='12'>{to / 1000} ms</text></svg>");
        return $"""
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>Violation on {WebUtility.HtmlEncode(check.Key)}</title></head>
            <body style="font-family: sans-serif">
            <h1>Not linearizable on key {WebUtility.HtmlEncode(check.Key)}</h1>
            <p>Bars run from an operation's call to its return (dashed grey: no answer, so it may take effect any time after its call).
            Red: the operation whose return no order of the operations before it could reach. Orange lines: faults. Hover for details.</p>
            {svg}
            <pre>{WebUtility.HtmlEncode(Describe(check))}</pre>
            </body></html>
            """;
    }

    private static string Short(Operation op) => op.Kind switch
    {
        OpKind.Get => $"get→{op.Observed ?? "∅"}",
        OpKind.Put => $"put {op.Value}",
        OpKind.Delete => op.Unknown ? "del?" : op.Succeeded ? "del" : "del∅",
        _ => $"cas {op.Expected ?? "∅"}→{op.Value}{(op.Unknown ? "?" : op.Succeeded ? "" : " ✗")}",
    };
}
