using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>--max-request-bytes on both doors: etcd's own error above the limit, gRPC's framing limit 512 KiB above it.</summary>
public sealed class RequestLimitTests : IAsyncLifetime
{
    private readonly HttpKvFactory factory = new(new Dictionary<string, string> { ["HttpKv:MaxRequestBytes"] = "1024" });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await factory.DisposeAsync();

    [Fact]
    public async Task A_json_request_above_max_request_bytes_is_refused_with_etcds_error()
    {
        var client = factory.CreateClient();
        var (status, error) = await client.PostAsync("/v3/kv/put", System.Text.Json.JsonSerializer.Serialize(new { key = B64("big"), value = B64(new string('x', 2048)) }));
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: request is too large", (string)error["error"]!);
        await client.PostOkAsync("/v3/kv/put", new { key = B64("small"), value = B64("ok") });
    }

    [Fact]
    public async Task A_json_body_beyond_the_framing_allowance_is_refused_too()
    {
        var client = factory.CreateClient();
        var (status, error) = await client.PostAsync("/v3/kv/put", System.Text.Json.JsonSerializer.Serialize(new { key = B64("huge"), value = B64(new string('x', 600 * 1024)) }));
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: request is too large", (string)error["error"]!);
    }

    [Theory]
    [InlineData("/v3/watch")]
    [InlineData("/v3/lease/keepalive")]
    public async Task A_streaming_route_body_beyond_the_framing_allowance_gets_etcds_error_as_a_unary_one_does(string route)
    {
        var client = factory.CreateClient();
        var (status, error) = await client.PostAsync(route, string.Concat(Enumerable.Repeat("{}", 300 * 1024))); // 600 KiB of requests
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: request is too large", (string)error["error"]!);
    }

    [Fact]
    public async Task A_grpc_request_above_max_request_bytes_gets_etcds_error()
    {
        using var channel = factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("big"), Value = ByteString.CopyFrom(new byte[2048]) }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("etcdserver: request is too large", error.Status.Detail);
    }

    [Fact]
    public async Task A_grpc_message_beyond_the_framing_allowance_is_refused_by_grpc()
    {
        using var channel = factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("huge"), Value = ByteString.CopyFrom(new byte[600 * 1024]) }));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        var ok = await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("small"), Value = ByteString.CopyFromUtf8("ok") });
        Assert.True(ok.Header.Revision > 1);
    }
}
