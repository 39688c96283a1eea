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
}
