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

/// <summary>A range answer: the header's revision and every key-value pair.</summary>
public sealed record RangeAnswer(long Revision, IReadOnlyList<RangeKv> Kvs);

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
    /// <summary>If <paramref name="compareKey"/> has mod_revision <paramref name="modRevision"/> (when
    /// <paramref name="byModRevision"/>) or else the value <paramref name="expected"/> (null: absent), puts every one
    /// of <paramref name="puts"/> in one txn. Changed: the compare held.</summary>
    Task<KvAnswer> TxnAsync(string compareKey, string? expected, long modRevision, bool byModRevision, IReadOnlyList<KeyValuePair<string, string>> puts);
    /// <summary>Every key under <paramref name="prefix"/>, linearizable or serializable.</summary>
    Task<RangeAnswer> RangeAsync(string prefix, bool serializable);
    Task LeaseGrantAsync(long id, long ttlSeconds);
    /// <summary>Changed false: etcdserver: requested lease not found.</summary>
    Task<KvAnswer> LeasePutAsync(string key, string value, long lease);
    /// <summary>Changed false: etcdserver: requested lease not found.</summary>
    Task<KvAnswer> LeaseRevokeAsync(long lease);
    /// <summary>One keep-alive; the TTL the leader answered (0: the lease does not exist).</summary>
    Task<long> KeepAliveAsync(long lease);
}

/// <summary>Helpers both transports share.</summary>
internal static class Prefixes
{
    /// <summary>The range_end that makes a range of every key starting with <paramref name="prefix"/>.</summary>
    public static string End(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);

    public const string LeaseNotFound = "requested lease not found";
}

public sealed class GrpcTransport(string endpoint) : IKvTransport
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private readonly GrpcChannel channel = GrpcChannel.ForAddress(endpoint);
    private KV.KVClient Kv => new(channel);
    private Lease.LeaseClient Leases => new(channel);
    private AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>? keepAlive;

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

    public async Task<KvAnswer> TxnAsync(string compareKey, string? expected, long modRevision, bool byModRevision, IReadOnlyList<KeyValuePair<string, string>> puts)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(byModRevision
            ? new Compare { Key = B(compareKey), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = modRevision }
            : expected is null
                ? new Compare { Key = B(compareKey), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
                : new Compare { Key = B(compareKey), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B(expected) });
        foreach (var put in puts) txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B(put.Key), Value = B(put.Value) } });
        var response = await CallAsync(options => Kv.TxnAsync(txn, options));
        return new KvAnswer(response.Header.Revision, Changed: response.Succeeded);
    }

    public async Task<RangeAnswer> RangeAsync(string prefix, bool serializable)
    {
        var response = await CallAsync(options => Kv.RangeAsync(new RangeRequest { Key = B(prefix), RangeEnd = B(Prefixes.End(prefix)), Serializable = serializable }, options));
        return new RangeAnswer(response.Header.Revision, [.. response.Kvs.Select(kv => new RangeKv(kv.Key.ToStringUtf8(), kv.Value.ToStringUtf8(), kv.ModRevision))]);
    }

    public async Task LeaseGrantAsync(long id, long ttlSeconds) =>
        await CallAsync(options => Leases.LeaseGrantAsync(new LeaseGrantRequest { ID = id, TTL = ttlSeconds }, options));

    public async Task<KvAnswer> LeasePutAsync(string key, string value, long lease)
    {
        try
        {
            return new((await Kv.PutAsync(new PutRequest { Key = B(key), Value = B(value), Lease = lease }, deadline: DateTime.UtcNow + Timeout)).Header.Revision, Changed: true);
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound && exception.Status.Detail.Contains(Prefixes.LeaseNotFound, StringComparison.Ordinal))
        {
            return new KvAnswer(0);
        }
        catch (RpcException exception)
        {
            throw new NoAnswerException(exception.Status.Detail, exception);
        }
    }

    public async Task<KvAnswer> LeaseRevokeAsync(long lease)
    {
        try
        {
            return new((await Leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: DateTime.UtcNow + Timeout)).Header.Revision, Changed: true);
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound && exception.Status.Detail.Contains(Prefixes.LeaseNotFound, StringComparison.Ordinal))
        {
            return new KvAnswer(0);
        }
        catch (RpcException exception)
        {
            throw new NoAnswerException(exception.Status.Detail, exception);
        }
    }

    /// <summary>Over one LeaseKeepAlive stream that lives as long as the transport (opened again after a failure).</summary>
    public async Task<long> KeepAliveAsync(long lease)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            keepAlive ??= Leases.LeaseKeepAlive();
            await keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, timeout.Token);
            if (!await keepAlive.ResponseStream.MoveNext(timeout.Token)) throw new NoAnswerException("the keep-alive stream ended");
            var response = keepAlive.ResponseStream.Current;
            if (response.ID != lease) throw new NoAnswerException($"a keep-alive for {lease:x} answered for {response.ID:x}");
            return response.TTL;
        }
        catch (Exception exception) when (exception is RpcException or OperationCanceledException or InvalidOperationException or NoAnswerException)
        {
            keepAlive?.Dispose();
            keepAlive = null;
            throw exception as NoAnswerException ?? new NoAnswerException(exception.Message, exception);
        }
    }

    public void Dispose()
    {
        keepAlive?.Dispose();
        channel.Dispose();
    }
}

/// <summary>The same requests as JSON over HTTP/1.1, as etcd's gateway takes them.</summary>
public sealed class GatewayTransport(string endpoint) : IKvTransport
{
    private readonly HttpClient http = new() { BaseAddress = new Uri(endpoint), Timeout = TimeSpan.FromSeconds(3) };
    /// <summary>Property names as written (the web defaults would camel-case "ID" and "TTL" to fields the gateway
    /// does not know, and it ignores unknown fields).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions Json = new();

    public string Door => "http";

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private async Task<JsonNode> PostAsync(string path, object body, bool leaseNotFoundIsAnAnswer = false)
    {
        try
        {
            using var response = await http.PostAsJsonAsync(path, body, Json);
            var text = await response.Content.ReadAsStringAsync();
            if (leaseNotFoundIsAnAnswer && response.StatusCode == System.Net.HttpStatusCode.NotFound && text.Contains(Prefixes.LeaseNotFound, StringComparison.Ordinal))
                return new JsonObject { ["lease_not_found"] = true };
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

    private static string S(long number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Utf8(JsonNode? base64) => Encoding.UTF8.GetString(Convert.FromBase64String((string?)base64 ?? ""));

    public async Task<KvAnswer> TxnAsync(string compareKey, string? expected, long modRevision, bool byModRevision, IReadOnlyList<KeyValuePair<string, string>> puts)
    {
        object compare = byModRevision
            ? new { key = B64(compareKey), target = "MOD", result = "EQUAL", mod_revision = S(modRevision) }
            : expected is null
                ? new { key = B64(compareKey), target = "VERSION", result = "EQUAL", version = "0" }
                : new { key = B64(compareKey), target = "VALUE", result = "EQUAL", value = B64(expected) };
        var success = puts.Select(put => new { request_put = new { key = B64(put.Key), value = B64(put.Value) } }).ToArray();
        var answer = await PostAsync("/v3/kv/txn", new { compare = new[] { compare }, success });
        return new KvAnswer(Revision(answer), Changed: answer["succeeded"] is not null && (bool)answer["succeeded"]!);
    }

    public async Task<RangeAnswer> RangeAsync(string prefix, bool serializable)
    {
        var answer = await PostAsync("/v3/kv/range", new { key = B64(prefix), range_end = B64(Prefixes.End(prefix)), serializable });
        var kvs = answer["kvs"]?.AsArray() ?? [];
        return new RangeAnswer(Revision(answer), [.. kvs.Select(kv => new RangeKv(Utf8(kv!["key"]), Utf8(kv["value"]),
            long.Parse((string?)kv["mod_revision"] ?? "0", System.Globalization.CultureInfo.InvariantCulture)))]);
    }

    public async Task LeaseGrantAsync(long id, long ttlSeconds) => await PostAsync("/v3/lease/grant", new { ID = S(id), TTL = S(ttlSeconds) });

    public async Task<KvAnswer> LeasePutAsync(string key, string value, long lease)
    {
        var answer = await PostAsync("/v3/kv/put", new { key = B64(key), value = B64(value), lease = S(lease) }, leaseNotFoundIsAnAnswer: true);
        return answer["lease_not_found"] is not null ? new KvAnswer(0) : new KvAnswer(Revision(answer), Changed: true);
    }

    public async Task<KvAnswer> LeaseRevokeAsync(long lease)
    {
        var answer = await PostAsync("/v3/lease/revoke", new { ID = S(lease) }, leaseNotFoundIsAnAnswer: true);
        return answer["lease_not_found"] is not null ? new KvAnswer(0) : new KvAnswer(Revision(answer), Changed: true);
    }

    /// <summary>etcd's gateway keep-alive: one JSON request in the body, one <c>{"result": …}</c> line back.</summary>
    public async Task<long> KeepAliveAsync(long lease)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v3/lease/keepalive") { Content = JsonContent.Create(new { ID = S(lease) }, options: Json) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var line = await reader.ReadLineAsync() ?? throw new NoAnswerException($"{(int)response.StatusCode}: no keep-alive answer");
            var result = JsonNode.Parse(line)?["result"] ?? throw new NoAnswerException($"{(int)response.StatusCode} {line}");
            return long.Parse((string?)result["TTL"] ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or IOException or System.Text.Json.JsonException)
        {
            throw new NoAnswerException(exception.Message, exception);
        }
    }

    public void Dispose() => http.Dispose();
}
