using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;

namespace HttpKv.Bench;

/// <summary>put, range, txn-put and txn-mixed over gRPC, and put and range over the /v3/kv/* JSON routes. Every
/// request message (or JSON body) is built once per key before the run and reused, and the value is one shared
/// buffer, so the client spends its time on the wire and not on building requests.</summary>
public sealed class KvWorkloads
{
    private readonly BenchOptions options;
    private readonly Connections connections;
    private readonly ByteString[] keys;
    private readonly PutRequest[] puts;
    private readonly RangeRequest[] ranges;
    private readonly TxnRequest[] txnPuts;
    private readonly byte[][] putBodies;
    private readonly byte[][] rangeBodies;

    public KvWorkloads(BenchOptions options, Connections connections)
    {
        this.options = options;
        this.connections = connections;
        var value = ByteString.CopyFrom(BenchValue(options.ValSize));
        keys = Enumerable.Range(0, options.KeySpaceSize).Select(i => ByteString.CopyFrom(KeyBytes(i, options.KeySize))).ToArray();
        puts = keys.Select(k => new PutRequest { Key = k, Value = value }).ToArray();
        ranges = keys.Select(k => new RangeRequest { Key = k, Serializable = options.Serializable }).ToArray();
        txnPuts = options.Workload == "txn-put"
            ? puts.Select(p => new TxnRequest { Success = { new RequestOp { RequestPut = p } } }).ToArray()
            : [];
        var http = options.Transport == "http";
        putBodies = http ? keys.Select(k => Json($"{{\"key\":\"{k.ToBase64()}\",\"value\":\"{value.ToBase64()}\"}}")).ToArray() : [];
        rangeBodies = http
            ? keys.Select(k => Json($"{{\"key\":\"{k.ToBase64()}\"{(options.Serializable ? ",\"serializable\":true" : "")}}}")).ToArray()
            : [];
    }

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>The key for slot i of the key space: the number in decimal, zero-padded to the key size (readable in
    /// etcdctl, and distinct for every slot).</summary>
    public static byte[] KeyBytes(int i, int keySize) =>
        Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture).PadLeft(keySize, '0'));

    /// <summary>A value of the given size (printable, so it reads well in etcdctl).</summary>
    public static byte[] BenchValue(int size) => Enumerable.Range(0, size).Select(i => (byte)('a' + i % 26)).ToArray();

    /// <summary>Client c's operation for the workload: picks a key (random, or the operation number with
    /// --sequential-keys) and sends the pre-built request for it.</summary>
    public Func<long, ValueTask> Operation(int client)
    {
        var random = new Random(client * 7919 + 1);
        var headers = connections.Headers;
        var space = options.KeySpaceSize;
        int Slot(long index) => options.SequentialKeys ? (int)(index % space) : random.Next(space);
        if (options.Transport == "http")
        {
            var http = connections.Http(client);
            var buffer = new byte[64 * 1024];
            return options.Workload switch
            {
                "put" => index => PostAsync(http, "/v3/kv/put", putBodies[Slot(index)], buffer),
                "range" => index => PostAsync(http, "/v3/kv/range", rangeBodies[Slot(index)], buffer),
                _ => throw new UsageException($"--transport http does not do {options.Workload}"),
            };
        }
        var kv = new KV.KVClient(connections.Channel(client));
        var readShare = options.ReadsPerWrite / (options.ReadsPerWrite + 1);
        return options.Workload switch
        {
            "put" => async index => await kv.PutAsync(puts[Slot(index)], headers),
            "range" => async index => await kv.RangeAsync(ranges[Slot(index)], headers),
            "txn-put" => async index => await kv.TxnAsync(txnPuts[Slot(index)], headers),
            "txn-mixed" => MixedAsync,
            _ => throw new InvalidOperationException($"not a KV workload: {options.Workload}"),
        };

        async ValueTask MixedAsync(long index)
        {
            if (random.NextDouble() < readShare) await kv.RangeAsync(ranges[Slot(index)], headers);
            else await kv.PutAsync(puts[Slot(index)], headers);
        }
    }

    /// <summary>Puts every key of the key space once (for range --prefill), with all clients, not measured.</summary>
    public async Task PrefillAsync()
    {
        long next = -1;
        await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(async client =>
        {
            var kv = new KV.KVClient(connections.Channel(client));
            for (var i = Interlocked.Increment(ref next); i < keys.Length; i = Interlocked.Increment(ref next))
                await kv.PutAsync(puts[i], connections.Headers);
        }));
    }

    private static async ValueTask PostAsync(HttpClient http, string path, byte[] body, byte[] buffer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var length = 0;
        int read;
        // Read the whole body (as a client would) into the client's own buffer; only an error body is kept.
        while ((read = await stream.ReadAsync(buffer.AsMemory(length < buffer.Length ? length : 0))) > 0)
            length = Math.Min(length + read, buffer.Length);
        if (!response.IsSuccessStatusCode)
            throw new BenchError($"HTTP {(int)response.StatusCode}: {ErrorMessage(buffer.AsSpan(0, length))}");
    }

    /// <summary>The "message" of an etcd gateway error body, or the body itself.</summary>
    private static string ErrorMessage(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(body);
            using var document = System.Text.Json.JsonDocument.ParseValue(ref reader);
            if (document.RootElement.TryGetProperty("message", out var message)) return message.GetString() ?? "";
        }
        catch (System.Text.Json.JsonException)
        {
            // not JSON: the text itself
        }
        return Encoding.UTF8.GetString(body).Trim();
    }
}
