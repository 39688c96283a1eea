using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

public sealed class RequestLimitTests
{
    [Fact]
    public async Task A_request_above_max_request_bytes_is_refused_with_etcds_error()
    {
        await using var factory = new HttpKvFactory(new Dictionary<string, string> { ["HttpKv:MaxRequestBytes"] = "1024" });
        var client = factory.CreateClient();
        var (status, error) = await client.PostAsync("/v3/kv/put", System.Text.Json.JsonSerializer.Serialize(new { key = B64("big"), value = B64(new string('x', 2048)) }));
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: request is too large", (string)error["error"]!);
        await client.PostOkAsync("/v3/kv/put", new { key = B64("small"), value = B64("ok") });
    }
}
