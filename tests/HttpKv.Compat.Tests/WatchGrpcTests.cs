using System.Diagnostics;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace HttpKv.Compat.Tests;

/// <summary>Watch over gRPC with dotnet-etcd's generated client (etcd's own wire messages): fragments compared with
/// the real etcd, and a stalled reader that must not hold up writes or grow the server's memory.</summary>
[Collection("cluster")]
public sealed class WatchGrpcTests(ITestOutputHelper log)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    private static ByteString Filled(int bytes, char fill) => ByteString.CopyFrom(Enumerable.Repeat((byte)fill, bytes).ToArray());

    /// <summary>One bidi watch stream: creates watchers one by one (each waits for its created response; other
    /// watchers' responses that come meanwhile are kept, in order, for <see cref="NextAsync"/>).</summary>
    private sealed class WatchStream(AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call) : IDisposable
    {
        private readonly Queue<WatchResponse> early = new();

        public async Task<long> CreateAsync(WatchCreateRequest create)
        {
            await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = create });
            while (true)
            {
                var response = await ReadAsync();
                if (response.Created) return response.WatchId;
                early.Enqueue(response);
            }
        }

        public async Task<WatchResponse> NextAsync() => early.TryDequeue(out var response) ? response : await ReadAsync();

        private async Task<WatchResponse> ReadAsync()
        {
            Assert.True(await call.ResponseStream.MoveNext().WaitAsync(Deadline), "the watch stream ended");
            return call.ResponseStream.Current;
        }

        public void Dispose() => call.Dispose();
    }

    /// <summary>Both servers with --max-request-bytes 1 MiB: the same writes, the same watchers created with
    /// fragment=true (history, live, prev_kv, an event larger than the limit) and one without; the responses' pattern
    /// (events per response, fragment flag, revisions) must be etcd's. etcd's fragment limit is --max-request-bytes
    /// plus its 512 KiB gRPC overhead (found with this test: 4 KiB alone splits nothing in etcd).</summary>
    [Fact]
    public async Task Fragmented_watch_responses_are_split_as_etcd_splits_them()
    {
        const int MaxRequestBytes = 1 << 20;
        const int Limit = MaxRequestBytes + 512 * 1024;
        await using var etcd = ServerProcess.Etcd("--max-request-bytes", MaxRequestBytes.ToString());
        await using var httpKv = ServerProcess.HttpKv("--max-request-bytes", MaxRequestBytes.ToString());
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        var expected = await FragmentTranscriptAsync(etcd, Limit);
        var actual = await FragmentTranscriptAsync(httpKv, Limit);
        log.WriteLine(string.Join('\n', expected));
        Assert.Contains(expected, line => line.Contains("fragment", StringComparison.Ordinal)); // the test does split
        Assert.Equal(expected, actual);
    }

    private static async Task<List<string>> FragmentTranscriptAsync(ServerProcess server, int limit)
    {
        using var channel = GrpcChannel.ForAddress(server.Url, new GrpcChannelOptions { MaxReceiveMessageSize = 16 << 20 });
        var kv = new KV.KVClient(channel);
        for (var i = 0; i < 10; i++) await kv.PutAsync(new PutRequest { Key = Bytes($"f/{i}"), Value = Filled(200_000, 'a') }); // 2..11
        await kv.PutAsync(new PutRequest { Key = Bytes("big"), Value = Filled(1_000_000, 'b') });  // 12
        await kv.PutAsync(new PutRequest { Key = Bytes("big"), Value = Filled(1_000_000, 'c') });  // 13: with prev_kv, above the limit

        using var watch = new WatchStream(new Watch.WatchClient(channel).Watch());
        var history = await watch.CreateAsync(new WatchCreateRequest { Key = Bytes("f/"), RangeEnd = Bytes("f0"), StartRevision = 2, Fragment = true });
        var whole = await watch.CreateAsync(new WatchCreateRequest { Key = Bytes("f/"), RangeEnd = Bytes("f0"), StartRevision = 2 });
        var big = await watch.CreateAsync(new WatchCreateRequest { Key = Bytes("big"), StartRevision = 12, PrevKv = true, Fragment = true });
        var live = await watch.CreateAsync(new WatchCreateRequest { Key = Bytes("g/"), RangeEnd = Bytes("g0"), PrevKv = true, Fragment = true });
        var names = new Dictionary<long, string> { [history] = "history", [whole] = "whole", [big] = "big", [live] = "live" };
        var wanted = new Dictionary<long, int> { [history] = 10, [whole] = 10, [big] = 2, [live] = 10 };

        for (var i = 0; i < 5; i++) await kv.PutAsync(new PutRequest { Key = Bytes($"g/{i}"), Value = Filled(190_000, 'd') }); // 14..18
        var txn = new TxnRequest(); // 19: five puts in one revision, each event with its prev_kv
        for (var i = 0; i < 5; i++) txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"g/{i}"), Value = Filled(190_000, 'e') } });
        Assert.True((await kv.TxnAsync(txn)).Succeeded);

        var lines = new Dictionary<long, List<string>>();
        var received = wanted.Keys.ToDictionary(id => id, _ => 0);
        while (received.Any(pair => pair.Value < wanted[pair.Key]))
        {
            var response = await watch.NextAsync();
            Assert.True(response.Events.Count > 0, $"a response without events: canceled {response.Canceled}, {response.CancelReason}");
            if (response.Events.Count > 1 && names[response.WatchId] != "whole")
                Assert.True(response.CalculateSize() < limit, $"a multi-event part of {response.CalculateSize()} bytes");
            received[response.WatchId] += response.Events.Count;
            (lines.TryGetValue(response.WatchId, out var list) ? list : lines[response.WatchId] = []).Add(
                $"{response.Events.Count} events, revisions {response.Events[0].Kv.ModRevision}..{response.Events[^1].Kv.ModRevision}{(response.Fragment ? ", fragment" : "")}");
        }
        return [.. lines.OrderBy(pair => names[pair.Key], StringComparer.Ordinal).SelectMany(pair => pair.Value.Select(line => $"{names[pair.Key]}: {line}"))];
    }

    /// <summary>VmRSS and RssAnon of a process in bytes, from /proc/&lt;pid&gt;/status.</summary>
    private static (long VmRss, long RssAnon) Memory(int pid)
    {
        long Field(string[] lines, string name) =>
            long.Parse(lines.Single(line => line.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        var lines = File.ReadAllLines($"/proc/{pid}/status");
        return (Field(lines, "VmRSS"), Field(lines, "RssAnon"));
    }

    /// <summary>Samples a process's VmRSS and RssAnon every 100 ms and keeps the peaks.</summary>
    private sealed class MemorySampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task loop;
        private long peakVmRss;
        private long peakRssAnon;

        public MemorySampler(int pid)
        {
            Baseline = Memory(pid);
            loop = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        var now = Memory(pid);
                        Interlocked.Exchange(ref peakVmRss, Math.Max(Interlocked.Read(ref peakVmRss), now.VmRss));
                        Interlocked.Exchange(ref peakRssAnon, Math.Max(Interlocked.Read(ref peakRssAnon), now.RssAnon));
                        await Task.Delay(100, stop.Token);
                    }
                    catch (Exception exception) when (exception is OperationCanceledException or IOException)
                    {
                        return; // stopped, or the process is gone
                    }
                }
            });
        }

        public (long VmRss, long RssAnon) Baseline { get; }

        public (long VmRss, long RssAnon) Peak => (Interlocked.Read(ref peakVmRss), Interlocked.Read(ref peakRssAnon));

        /// <summary>How much the anonymous memory (the heap, not LMDB's file-backed map) grew, at its peak.</summary>
        public long RssAnonGrowth => Peak.RssAnon - Baseline.RssAnon;

        public override string ToString() =>
            $"VmRSS {Baseline.VmRss >> 20} → peak {Peak.VmRss >> 20} MiB, RssAnon {Baseline.RssAnon >> 20} → peak {Peak.RssAnon >> 20} MiB";

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }

    private static ServerProcess WorkstationGc(ServerProcess server)
    {
        server.Environment["DOTNET_gcServer"] = "0";
        return server;
    }

    private const int SlowPuts = 10_000;
    private const int SlowValueBytes = 32 * 1024;

    /// <summary>10,000 puts of 32 KiB under slow/ from 16 concurrent callers; all must succeed (a generous liveness
    /// deadline, no timing assertion). Returns each put's revision.</summary>
    private static async Task<long[]> PutSlowKeysAsync(ServerProcess server)
    {
        using var channel = GrpcChannel.ForAddress(server.Url);
        var kv = new KV.KVClient(channel);
        var revisions = new long[SlowPuts];
        var next = -1;
        var value = Filled(SlowValueBytes, 'v');
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < SlowPuts; i = Interlocked.Increment(ref next))
                revisions[i] = (await kv.PutAsync(new PutRequest { Key = Bytes($"slow/{i:D5}"), Value = value },
                    deadline: DateTime.UtcNow.AddMinutes(2))).Header.Revision;
        }))).WaitAsync(TimeSpan.FromMinutes(5));
        return revisions;
    }

    /// <summary>A real gRPC client opens a watch and stops reading it (HTTP/2 flow control then stalls the server's
    /// writes); 10,000 puts of 32 KiB (320 MB of events) from another client must all succeed. Then the client reads
    /// again and must get every put, in revision order, once. Throughout, the server's memory must stay far below what
    /// keeping those events for the slow client would take: the same puts on a second server without any watcher
    /// give the write path's own growth, and the stalled watcher may add at most 160 MiB to it (its bounded queue and
    /// stream buffers take a few MiB, the catch-up's 3 MiB responses churn the large-object heap by about 110 MiB;
    /// before the byte bounds the stalled watcher added about 290 MiB during the puts alone); the whole resident set,
    /// LMDB's file-backed map included, stays under 1.5 GiB. Both servers run the workstation GC (DOTNET_gcServer=0):
    /// the server GC's large per-core allocation budgets make RSS follow the allocation rate (hundreds of MiB here
    /// whether or not anyone watches) rather than what is kept. Only liveness deadlines.</summary>
    [Fact]
    public async Task A_stalled_watch_reader_neither_blocks_10000_puts_nor_grows_server_memory_and_then_gets_every_event()
    {
        long controlGrowth;
        await using (var control = WorkstationGc(ServerProcess.HttpKv()))
        {
            await control.StartAsync();
            await using var sampler = new MemorySampler(control.Pid);
            await PutSlowKeysAsync(control);
            controlGrowth = sampler.RssAnonGrowth;
            log.WriteLine($"without a watcher: {sampler}");
        }

        await using var server = WorkstationGc(ServerProcess.HttpKv());
        await server.StartAsync();
        using var watchChannel = GrpcChannel.ForAddress(server.Url);
        using var watch = new WatchStream(new Watch.WatchClient(watchChannel).Watch());
        await watch.CreateAsync(new WatchCreateRequest { Key = Bytes("slow/"), RangeEnd = Bytes("slow0") });
        // The client now reads nothing until every put is done.
        await using var memory = new MemorySampler(server.Pid);
        var revisions = await PutSlowKeysAsync(server);
        var stalledGrowth = memory.RssAnonGrowth; // the stall is what must stay bounded; catching up runs at full speed
        log.WriteLine($"with a stalled watcher, after the puts: {memory}");

        var expected = revisions.Order().ToList();
        var received = new List<long>();
        var value = Filled(SlowValueBytes, 'v');
        while (received.Count < SlowPuts)
        {
            var response = await watch.NextAsync();
            Assert.False(response.Canceled, $"cancelled: {response.CancelReason} (compact revision {response.CompactRevision})");
            foreach (var change in response.Events)
            {
                Assert.Equal(value, change.Kv.Value);
                received.Add(change.Kv.ModRevision);
            }
        }
        log.WriteLine($"with a stalled watcher, after catching up: {memory}");
        Assert.Equal(expected, received);
        Assert.True(stalledGrowth < controlGrowth + (160L << 20),
            $"RssAnon grew by {stalledGrowth >> 20} MiB with the stalled watcher, {controlGrowth >> 20} MiB without");
        Assert.True(memory.Peak.VmRss < 3L << 29, $"VmRSS reached {memory.Peak.VmRss >> 20} MiB");
    }
}
