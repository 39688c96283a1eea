using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Robustness.Workload;

/// <summary>A single-key answer: the header's revision, and the value read, whether something was deleted, or
/// whether the compare held.</summary>
public readonly record struct KvAnswer(long Revision, string? Value = null, bool Changed = false);

/// <summary>Raised when a request got no definite answer (timeout, lost connection, an error status): a write may
/// then have happened or not.</summary>
public sealed class NoAnswerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The door a client uses: gRPC or the /v3 JSON gateway. Both must give a linearizable history.</summary>
public interface IKvTransport : IDisposable
{
    string Door { get; }
    Task<KvAnswer> GetAsync(string key);
    Task<KvAnswer> PutAsync(string key, string value);
    Task<KvAnswer> DeleteAsync(string key);
    /// <summary>Puts <paramref name="value"/> if the key holds <paramref name="expected"/> (null: the key is absent).</summary>
    Task<KvAnswer> CompareAndSwapAsync(string key, string? expected, string value);
}

public sealed class GrpcTransport(string endpoint) : IKvTransport
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private readonly GrpcChannel channel = GrpcChannel.ForAddress(endpoint);
    private KV.KVClient Kv => new(channel);

    public string Door => "grpc";

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static async Task<T> CallAsync<T>(Func<CallOptions, AsyncUnaryCall<T>> call)
    {
        try
        {
            return await call(new CallOptions(deadline: DateTime.UtcNow + Timeout));
        }
        catch (RpcException exception)
        {
            throw new NoAnswerException(exception.Status.Detail, exception);
        }
    }

    public async Task<KvAnswer> GetAsync(string key)
    {
        var response = await CallAsync(options => Kv.RangeAsync(new RangeRequest { Key = B(key) }, options));
        return new KvAnswer(response.Header.Revision, response.Kvs.Count == 0 ? null : response.Kvs[0].Value.ToStringUtf8());
    }

    public async Task<KvAnswer> PutAsync(string key, string value) =>
        new((await CallAsync(options => Kv.PutAsync(new PutRequest { Key = B(key), Value = B(value) }, options))).Header.Revision, Changed: true);

    public async Task<KvAnswer> DeleteAsync(string key)
    {
        var response = await CallAsync(options => Kv.DeleteRangeAsync(new DeleteRangeRequest { Key = B(key) }, options));
        return new KvAnswer(response.Header.Revision, Changed: response.Deleted > 0);
    }

    public async Task<KvAnswer> CompareAndSwapAsync(string key, string? expected, string value)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(expected is null
            ? new Compare { Key = B(key), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
            : new Compare { Key = B(key), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B(expected) });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B(key), Value = B(value) } });
        var response = await CallAsync(options => Kv.TxnAsync(txn, options));
        return new KvAnswer(response.Header.Revision, Changed: response.Succeeded);
    }

    public void Dispose() => channel.Dispose();
}

/// <summary>The same requests as JSON over HTTP/1.1, as etcd's gateway takes them.</summary>
public sealed class GatewayTransport(string endpoint) : IKvTransport
{
    private readonly HttpClient http = new() { BaseAddress = new Uri(endpoint), Timeout = TimeSpan.FromSeconds(3) };

    public string Door => "http";

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private async Task<JsonNode> PostAsync(string path, object body)
    {
        try
        {
            using var response = await http.PostAsJsonAsync(path, body);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new NoAnswerException($"{(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException)
        {
            throw new NoAnswerException(exception.Message, exception);
        }
    }

    private static long Revision(JsonNode answer) => long.Parse((string)answer["header"]!["revision"]!, System.Globalization.CultureInfo.InvariantCulture);

    public async Task<KvAnswer> GetAsync(string key)
    {
        var answer = await PostAsync("/v3/kv/range", new { key = B64(key) });
        var kvs = answer["kvs"]?.AsArray();
        var value = kvs is { Count: > 0 } ? Encoding.UTF8.GetString(Convert.FromBase64String((string?)kvs[0]!["value"] ?? "")) : null;
        return new KvAnswer(Revision(answer), value);
    }

    public async Task<KvAnswer> PutAsync(string key, string value) =>
        new(Revision(await PostAsync("/v3/kv/put", new { key = B64(key), value = B64(value) })), Changed: true);

    public async Task<KvAnswer> DeleteAsync(string key)
    {
        var answer = await PostAsync("/v3/kv/deleterange", new { key = B64(key) });
        return new KvAnswer(Revision(answer), Changed: answer["deleted"] is not null && (string)answer["deleted"]! != "0");
    }

    public async Task<KvAnswer> CompareAndSwapAsync(string key, string? expected, string value)
    {
        object compare = expected is null
            ? new { key = B64(key), target = "VERSION", result = "EQUAL", version = "0" }
            : new { key = B64(key), target = "VALUE", result = "EQUAL", value = B64(expected) };
        var answer = await PostAsync("/v3/kv/txn", new { compare = new[] { compare }, success = new[] { new { request_put = new { key = B64(key), value = B64(value) } } } });
        return new KvAnswer(Revision(answer), Changed: answer["succeeded"] is not null && (bool)answer["succeeded"]!);
    }

    public void Dispose() => http.Dispose();
}
