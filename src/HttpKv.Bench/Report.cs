using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HttpKv.Bench;

/// <summary>The end of a run: a summary for people on stdout, and with --json the same numbers for scripts.</summary>
public static class Report
{
    private static readonly (string Name, double Percent)[] Percentiles = [("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)];

    private static double Ms(double ns) => Math.Round(ns / 1e6, 4);

    public static string Summary(BenchOptions options, RunResult result)
    {
        var text = new StringBuilder();
        var opsPerSec = result.Seconds > 0 ? result.Ops / result.Seconds : 0;
        var i = CultureInfo.InvariantCulture;
        text.AppendLine(i, $"{options.Workload} ({Transport(options)}): {result.Ops} ops, {result.Errors} errors in {result.Seconds:F2} s = {opsPerSec:F1} ops/s");
        var latency = result.Latency;
        var what = options.Workload == "watch" ? "delivery latency" : "latency";
        text.Append(i, $"{what} ms: min {Ms(latency.MinNs == long.MaxValue ? 0 : latency.MinNs):F3} mean {Ms(latency.MeanNs):F3}");
        foreach (var (name, percent) in Percentiles) text.Append(i, $" {name} {Ms(latency.PercentileNs(percent)):F3}");
        text.AppendLine(i, $" max {Ms(latency.MaxNs):F3}");
        if (result.Watch is { } watch)
            text.AppendLine(i, $"watch: {watch.Watchers} watchers, {watch.Delivered} of {watch.Expected} events delivered, {watch.EventsPerSec:F1} events/s");
        foreach (var (error, count) in result.ErrorCounts.OrderByDescending(e => e.Value))
            text.AppendLine(i, $"error x{count}: {error}");
        return text.ToString();
    }

    public static string Transport(BenchOptions options) => options.Workload == "fsync" ? "disk" : options.Transport;

    public static byte[] Json(BenchOptions options, RunResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            json.WriteString("workload", options.Workload);
            json.WriteString("transport", Transport(options));
            json.WriteStartArray("endpoints");
            foreach (var endpoint in options.Workload == "fsync" ? [] : options.Endpoints) json.WriteStringValue(endpoint);
            json.WriteEndArray();
            json.WriteNumber("clients", options.Clients);
            json.WriteNumber("conns", options.Conns);
            json.WriteNumber("ops", result.Ops);
            json.WriteNumber("errors", result.Errors);
            json.WriteNumber("seconds", Math.Round(result.Seconds, 4));
            json.WriteNumber("opsPerSec", Math.Round(result.Seconds > 0 ? result.Ops / result.Seconds : 0, 2));
            var latency = result.Latency;
            json.WriteStartObject("latencyMs");
            json.WriteNumber("min", Ms(latency.Count == 0 ? 0 : latency.MinNs));
            json.WriteNumber("mean", Ms(latency.MeanNs));
            foreach (var (name, percent) in Percentiles) json.WriteNumber(name, Ms(latency.PercentileNs(percent)));
            json.WriteNumber("max", Ms(latency.MaxNs));
            json.WriteEndObject();
            json.WriteStartObject("errorCounts");
            foreach (var (error, count) in result.ErrorCounts.OrderByDescending(e => e.Value)) json.WriteNumber(error, count);
            json.WriteEndObject();
            if (result.Watch is { } watch)
            {
                json.WriteStartObject("watch");
                json.WriteNumber("watchers", watch.Watchers);
                json.WriteNumber("expected", watch.Expected);
                json.WriteNumber("delivered", watch.Delivered);
                json.WriteNumber("eventsPerSec", Math.Round(watch.EventsPerSec, 2));
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
