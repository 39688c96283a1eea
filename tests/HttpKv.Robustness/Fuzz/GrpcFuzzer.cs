using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;

namespace HttpKv.Robustness.Fuzz;

/// <summary>Sends a live member malformed gRPC calls over HTTP/2 (prior knowledge): length prefixes that lie
/// (shorter, longer, 4 GiB), the compressed flag without compression, bytes that are not protobuf, truncated
/// messages, several messages on a unary call, oversized messages, unknown methods. Each call must end with a
/// gRPC status (or a refused stream), never take the member down.</summary>
public sealed class GrpcFuzzer(string baseUrl, int seed)
{
    private static readonly string[] Methods =
    [
        "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Txn", "/etcdserverpb.KV/Compact",
        "/etcdserverpb.Lease/LeaseGrant", "/etcdserverpb.Lease/LeaseTimeToLive", "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive",
        "/etcdserverpb.Cluster/MemberList", "/etcdserverpb.Maintenance/Status", "/etcdserverpb.Auth/Authenticate", "/etcdserverpb.Auth/UserGet",
        "/v3lockpb.Lock/Unlock", "/v3electionpb.Election/Leader", "/etcdserverpb.KV/Nope", "/nope.Service/Call",
    ];

    /// <summary>A valid PutRequest {key: "fz/g", value: "v"}, to mutate.</summary>
    private static readonly byte[] Sample = [0x0a, 0x04, (byte)'f', (byte)'z', (byte)'/', (byte)'g', 0x12, 0x01, (byte)'v'];

    private readonly Random random = new(seed);
    private readonly HttpClient client = new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
        BaseAddress = new Uri(baseUrl),
        Timeout = TimeSpan.FromSeconds(3),
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    /// <summary>The outcome of each call: its grpc-status, "no answer", or the transport error.</summary>
    public async Task<List<string>> RunAsync(int calls)
    {
        var outcomes = new List<string>(calls);
        for (var i = 0; i < calls; i++) outcomes.Add(await CallAsync());
        return outcomes;
    }

    private async Task<string> CallAsync()
    {
        var method = Methods[random.Next(Methods.Length)];
        using var request = new HttpRequestMessage(HttpMethod.Post, method) { Content = new ByteArrayContent(Frame()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(random.Next(8) == 0 ? "application/json" : "application/grpc");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        try
        {
            using var response = await client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) ? "grpc-status " + values.First()
                : response.Headers.TryGetValues("grpc-status", out var early) ? "grpc-status " + early.First() : $"http {(int)response.StatusCode}";
            return $"{method}: {status}";
        }
        catch (TaskCanceledException)
        {
            return $"{method}: no answer within 3 s";
        }
        catch (HttpRequestException exception)
        {
            return $"{method}: transport error {exception.Message}";
        }
    }

    private byte[] Frame()
    {
        var payload = random.Next(6) switch
        {
            0 => Sample,
            1 => [.. Sample.Select(b => random.Next(4) == 0 ? (byte)random.Next(256) : b)],
            2 => Sample[..random.Next(Sample.Length)],
            3 => [.. Enumerable.Range(0, random.Next(1, 200)).Select(_ => (byte)random.Next(256))],
            4 => [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // a key claiming 4 GiB
            _ => new byte[random.Next(2) == 0 ? 0 : 3 * 1024 * 1024], // empty, or larger than --max-request-bytes
        };
        var declared = random.Next(5) switch
        {
            0 => (uint)payload.Length + (uint)random.Next(1, 100), // promises more than it sends
            1 => (uint)Math.Max(0, payload.Length - random.Next(1, 5)),
            2 => uint.MaxValue,
            _ => (uint)payload.Length,
        };
        var frame = new byte[5 + payload.Length];
        frame[0] = (byte)(random.Next(6) == 0 ? 1 : 0); // "compressed" without a grpc-encoding
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declared);
        payload.CopyTo(frame, 5);
        if (random.Next(6) == 0) return [.. frame, .. frame]; // two messages on what may be a unary call
        return frame;
    }
}
