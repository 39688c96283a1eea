using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace HttpKv.Bench;

/// <summary>--watchers W on one prefix over --watch-streams S gRPC watch streams (several watchers per stream, on
/// the conns round robin), then --puts P puts under the prefix from --clients clients. Each put's value starts with
/// its send time (Stopwatch ticks, this process's clock), so each event's delivery latency is its arrival time minus
/// that. Every watcher must see every put that succeeded: an event a watcher did not get counts as an error.</summary>
public sealed class WatchWorkload(BenchOptions options, Connections connections)
{
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(60);
    /// <summary>How long the delivery may stall after the last put before the missing events are given up on.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] Prefix = Encoding.ASCII.GetBytes("httpkv-bench-watch/");

    /// <summary>One watch stream and what its watchers received. Only its reader task writes to it.</summary>
    private sealed class Stream(AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call, int watchers)
    {
        public readonly AsyncDuplexStreamingCall<WatchRequest, WatchResponse> Call = call;
        public readonly int Watchers = watchers;
        public readonly Dictionary<long, long> DeliveredByWatchId = [];
        public readonly LatencyHistogram Latency = new();
        public readonly TaskCompletionSource AllCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long LastEventTicks;
    }

    private long delivered;

    public async Task<RunResult> RunAsync()
    {
        var rangeEnd = Prefix.ToArray();
        rangeEnd[^1]++;
        var streams = new List<Stream>();
        for (var s = 0; s < options.WatchStreams; s++)
        {
            var watchers = options.Watchers / options.WatchStreams + (s < options.Watchers % options.WatchStreams ? 1 : 0);
            var client = new Watch.WatchClient(connections.Channel(s));
            streams.Add(new Stream(client.Watch(connections.Headers), watchers));
        }
        var result = new RunResult();
        var readers = streams.Select(stream => Task.Run(() => ReadAsync(stream, result))).ToArray();
        var create = new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFrom(Prefix), RangeEnd = ByteString.CopyFrom(rangeEnd) },
        };
        await Task.WhenAll(streams.Select(async stream =>
        {
            for (var w = 0; w < stream.Watchers; w++) await stream.Call.RequestStream.WriteAsync(create);
        }));
        await Task.WhenAll(streams.Select(stream => stream.AllCreated.Task)).WaitAsync(SetupTimeout);

        var putOptions = options with { Total = options.WatchPuts, Duration = null };
        var start = Stopwatch.GetTimestamp();
        var puts = await Runner.RunAsync(putOptions, PutOperation);
        var expectedPerWatcher = puts.Ops;
        var expected = expectedPerWatcher * options.Watchers;
        await DrainAsync(expected);

        foreach (var stream in streams) await stream.Call.RequestStream.CompleteAsync();
        foreach (var stream in streams) stream.Call.Dispose();
        await Task.WhenAll(readers);

        result.Ops = puts.Ops;
        result.Errors += puts.Errors;
        foreach (var (text, count) in puts.ErrorCounts) result.ErrorCounts.AddOrUpdate(text, count, (_, n) => n + count);
        long missing = 0, got = 0;
        foreach (var stream in streams)
        {
            result.Latency.Add(stream.Latency);
            foreach (var count in stream.DeliveredByWatchId.Values)
            {
                got += count;
                missing += Math.Max(0, expectedPerWatcher - count);
            }
            missing += Math.Max(0, stream.Watchers - stream.DeliveredByWatchId.Count) * expectedPerWatcher;
        }
        if (missing > 0)
        {
            result.Errors += missing;
            result.ErrorCounts.AddOrUpdate("watch: event not delivered", missing, (_, n) => n + missing);
        }
        var last = streams.Max(stream => stream.LastEventTicks);
        result.Seconds = (Math.Max(last, start) - start) / (double)Stopwatch.Frequency;
        if (result.Seconds == 0) result.Seconds = puts.Seconds;
        result.Watch = new WatchResult(options.Watchers, expected, got, got / result.Seconds);
        return result;
    }

    /// <summary>A put of a fresh value that carries its send time; the key cycles through the key space under the prefix.</summary>
    private Func<long, ValueTask> PutOperation(int client)
    {
        var kv = new KV.KVClient(connections.Channel(client));
        var template = KvWorkloads.BenchValue(Math.Max(8, options.ValSize));
        var keys = Enumerable.Range(0, options.KeySpaceSize)
            .Select(i => ByteString.CopyFrom([.. Prefix, .. KvWorkloads.KeyBytes(i, Math.Min(options.KeySize, 20))])).ToArray();
        var random = new Random(client * 7919 + 1);
        return async index =>
        {
            var value = (byte[])template.Clone();
            var key = keys[options.SequentialKeys ? (int)(index % keys.Length) : random.Next(keys.Length)];
            BinaryPrimitives.WriteInt64LittleEndian(value, Stopwatch.GetTimestamp());
            await kv.PutAsync(new PutRequest { Key = key, Value = UnsafeByteOperations.UnsafeWrap(value) }, connections.Headers);
        };
    }

    private async Task ReadAsync(Stream stream, RunResult result)
    {
        try
        {
            while (await stream.Call.ResponseStream.MoveNext(CancellationToken.None))
            {
                var response = stream.Call.ResponseStream.Current;
                var now = Stopwatch.GetTimestamp();
                if (response.Created)
                {
                    stream.DeliveredByWatchId.TryAdd(response.WatchId, 0);
                    if (stream.DeliveredByWatchId.Count == stream.Watchers) stream.AllCreated.TrySetResult();
                }
                if (response.Canceled)
                {
                    result.CountError(new BenchError("watch canceled: " + response.CancelReason));
                    stream.AllCreated.TrySetException(new BenchError("watch canceled: " + response.CancelReason));
                }
                if (response.Events.Count == 0) continue;
                foreach (var e in response.Events)
                    stream.Latency.Record(Runner.ToNs(now - BinaryPrimitives.ReadInt64LittleEndian(e.Kv.Value.Span)));
                stream.DeliveredByWatchId[response.WatchId] = stream.DeliveredByWatchId.GetValueOrDefault(response.WatchId) + response.Events.Count;
                stream.LastEventTicks = now;
                Interlocked.Add(ref delivered, response.Events.Count);
            }
        }
        catch (Exception error) when (error is RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException or ObjectDisposedException)
        {
            // the run is over and the stream was closed by us
        }
        catch (RpcException error)
        {
            result.CountError(error);
            stream.AllCreated.TrySetException(error);
        }
    }

    /// <summary>Waits until every watcher has every event, or until no event has arrived for <see cref="DrainTimeout"/>.</summary>
    private async Task DrainAsync(long expected)
    {
        var lastSeen = Interlocked.Read(ref delivered);
        var lastChange = Stopwatch.GetTimestamp();
        while (true)
        {
            var now = Interlocked.Read(ref delivered);
            if (now >= expected) return;
            if (now != lastSeen) (lastSeen, lastChange) = (now, Stopwatch.GetTimestamp());
            else if (Stopwatch.GetElapsedTime(lastChange) > DrainTimeout) return;
            await Task.Delay(20);
        }
    }
}
