using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;

namespace HttpKv.Bench;

/// <summary>An operation failed in a way the server told us about (an HTTP status and message, a lease gone).</summary>
public sealed class BenchError(string message) : Exception(message);

/// <summary>What a run counted: successful operations, failed ones by error text, the latency of the successful
/// ones, and the wall time from the first operation to the last answer.</summary>
public sealed class RunResult
{
    public long Ops;
    public long Errors;
    public double Seconds;
    public LatencyHistogram Latency { get; } = new();
    public ConcurrentDictionary<string, long> ErrorCounts { get; } = new();
    /// <summary>Only for the watch workload.</summary>
    public WatchResult? Watch { get; set; }

    public void CountError(Exception error)
    {
        Interlocked.Increment(ref Errors);
        ErrorCounts.AddOrUpdate(ErrorText(error), 1, (_, n) => n + 1);
    }

    /// <summary>One line per distinct error: the gRPC status detail, the HTTP status and message, or the exception.</summary>
    public static string ErrorText(Exception error) => string.Join(' ', Describe(error).Split('\n', StringSplitOptions.TrimEntries));

    private static string Describe(Exception error) => error switch
    {
        RpcException rpc when rpc.Status.Detail.Length > 0 => rpc.Status.Detail,
        RpcException rpc => rpc.StatusCode.ToString(),
        BenchError bench => bench.Message,
        HttpRequestException http => "HTTP: " + (http.InnerException?.Message ?? http.Message),
        _ => error.GetType().Name + ": " + error.Message,
    };
}

public sealed record WatchResult(int Watchers, long Expected, long Delivered, double EventsPerSec);

/// <summary>Drives the clients of a run: each client takes the next operation number until --total are handed out or
/// --duration is over. Closed loop: a client sends its next request when the last one is answered, and latency is
/// the round trip. Open loop (--rate R): operation i is due at start + i/R whichever client takes it, and its latency
/// is measured from that due time, so a server that falls behind shows the queueing instead of hiding it (coordinated
/// omission). Each client records into its own histogram; they are merged at the end.</summary>
public static class Runner
{
    private static readonly double NsPerTick = 1e9 / Stopwatch.Frequency;

    public static long ToNs(long ticks) => (long)(ticks * NsPerTick);

    /// <param name="clientOperation">Builds client c's operation, called with the operation number; it throws on error.</param>
    public static async Task<RunResult> RunAsync(BenchOptions options, Func<int, Func<long, ValueTask>> clientOperation,
        RunResult? result = null)
    {
        result ??= new RunResult();
        long handedOut = -1;
        var operations = Enumerable.Range(0, options.Clients).Select(clientOperation).ToArray();
        var histograms = Enumerable.Range(0, options.Clients).Select(_ => new LatencyHistogram()).ToArray();
        var start = Stopwatch.GetTimestamp();
        var deadline = options.Duration is { } duration ? start + (long)(duration.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        var ticksPerOperation = options.Rate > 0 ? Stopwatch.Frequency / options.Rate : 0;
        using var stopProgress = new CancellationTokenSource();
        var progress = options.Quiet ? Task.CompletedTask : ProgressAsync(result, start, stopProgress.Token);

        async Task ClientAsync(int client)
        {
            var operation = operations[client];
            var histogram = histograms[client];
            while (true)
            {
                var index = Interlocked.Increment(ref handedOut);
                if (options.Duration is null && index >= options.Total) return;
                long begin;
                if (ticksPerOperation > 0)
                {
                    begin = start + (long)(index * ticksPerOperation);
                    if (begin >= deadline) return;
                    await WaitUntilAsync(begin);
                }
                else
                {
                    begin = Stopwatch.GetTimestamp();
                    if (begin >= deadline) return;
                }
                try
                {
                    await operation(index);
                    histogram.Record(ToNs(Stopwatch.GetTimestamp() - begin));
                    Interlocked.Increment(ref result.Ops);
                }
                catch (Exception error) when (error is RpcException or BenchError or HttpRequestException or IOException or TaskCanceledException)
                {
                    result.CountError(error);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(client => Task.Run(() => ClientAsync(client))));
        result.Seconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        await stopProgress.CancelAsync();
        await progress;
        foreach (var histogram in histograms) result.Latency.Add(histogram);
        return result;
    }

    /// <summary>Waits for a due time: the timer for whole milliseconds, then a short spin so the request leaves on time
    /// rather up to a timer tick late.</summary>
    private static async ValueTask WaitUntilAsync(long due)
    {
        var remaining = due - Stopwatch.GetTimestamp();
        if (remaining <= 0) return;
        var wholeMs = (int)(remaining * 1000 / Stopwatch.Frequency) - 1;
        if (wholeMs > 0) await Task.Delay(wholeMs);
        var spin = new SpinWait();
        while (Stopwatch.GetTimestamp() < due) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>One line about every second on stderr: operations done, the rate over the last second, errors.</summary>
    public static async Task ProgressAsync(RunResult result, long start, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long lastOps = 0, lastTicks = start;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var now = Stopwatch.GetTimestamp();
                var ops = Interlocked.Read(ref result.Ops);
                var rate = (ops - lastOps) / ((now - lastTicks) / (double)Stopwatch.Frequency);
                Console.Error.WriteLine($"{(now - start) / (double)Stopwatch.Frequency,6:F1}s  ops {ops}  {rate:F0} ops/s  errors {Interlocked.Read(ref result.Errors)}");
                (lastOps, lastTicks) = (ops, now);
            }
        }
        catch (OperationCanceledException)
        {
            // the run is over
        }
    }
}
