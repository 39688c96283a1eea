using System.Text.Json.Nodes;

namespace HttpKv.Compat.Tests;

/// <summary>curl on the /v3 JSON routes: the same bodies as the real etcd's gateway for the same requests,
/// on the same port that serves gRPC.</summary>
public sealed class CurlTests
{
    private static readonly (string Path, string Body)[] Requests =
    [
        ("/v3/kv/put", """{"key":"Zm9v","value":"YmFy"}"""),
        ("/v3/kv/range", """{"key":"Zm9v"}"""),
        ("/v3/kv/put", """{"key":"Zm9v","value":"YmF6","prev_kv":true}"""),
        ("/v3/kv/put", """{"key":"YTE=","value":"MQ=="}"""),
        ("/v3/kv/range", """{"key":"AA==","range_end":"AA==","sort_order":"DESCEND","sort_target":"MOD","limit":"1"}"""),
        ("/v3/kv/range", """{"key":"Zm9v","revision":"2"}"""),
        ("/v3/kv/range", """{"key":"Zm9v","revision":"1000"}"""),
        ("/v3/kv/put", """{"value":"YmFy"}"""),
        ("/v3/kv/txn", """{"compare":[{"key":"Zm9v","target":"VALUE","result":"EQUAL","value":"YmF6"}],"success":[{"request_put":{"key":"Zm9v","value":"cXV4"}},{"request_range":{"key":"Zm9v"}}]}"""),
        ("/v3/kv/txn", """{"compare":[{"key":"Zm9v","target":"VERSION","result":"LESS","version":"2"}],"failure":[{"request_delete_range":{"key":"YTE=","prev_kv":true}}]}"""),
        ("/v3/kv/deleterange", """{"key":"AA==","range_end":"AA==","prev_kv":true}"""),
        ("/v3/kv/compaction", """{"revision":"3"}"""),
        ("/v3/kv/range", """{"key":"Zm9v","revision":"2"}"""),
        ("/v3beta/kv/range", """{"key":"Zm9v"}"""),
        ("/v3/kv/put", """{"key":"Zm9v","value":"YmFy","lease":"12345"}"""),
    ];

    [Fact]
    public async Task Gateway_bodies_equal_etcds_for_the_same_requests()
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        foreach (var (path, body) in Requests)
        {
            var expected = await CurlAsync(etcd, path, body);
            var actual = await CurlAsync(httpKv, path, body);
            Assert.True(JsonNode.DeepEquals(expected.Json, actual.Json) && expected.Status == actual.Status,
                $"POST {path} {body}\netcd:   {expected.Status} {expected.Json}\nhttpkv: {actual.Status} {actual.Json}");
        }
    }

    [Fact]
    public async Task Version_health_and_a_body_without_content_type()
    {
        await using var httpKv = ServerProcess.HttpKv();
        await httpKv.StartAsync();
        var version = await Tool.RunAsync("curl", ["-sS", httpKv.Url + "/version"]);
        Assert.StartsWith("3.5.", (string)JsonNode.Parse(version.Stdout)!["etcdserver"]!);
        var health = await Tool.RunAsync("curl", ["-sS", httpKv.Url + "/health"]);
        Assert.Equal("true", (string)JsonNode.Parse(health.Stdout)!["health"]!);
        var put = await Tool.RunAsync("curl", ["-sS", "-H", "Content-Type:", "--data-binary", """{"key":"eA==","value":"eQ=="}""", httpKv.Url + "/v3/kv/put"]);
        Assert.Equal("2", (string)JsonNode.Parse(put.Stdout)!["header"]!["revision"]!);
        var http2 = await Tool.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-d", """{"key":"eA=="}""", httpKv.Url + "/v3/kv/range"]);
        Assert.Equal("eQ==", (string)JsonNode.Parse(http2.Stdout)!["kvs"]![0]!["value"]!);
    }

    private static async Task<(string Status, JsonNode? Json)> CurlAsync(ServerProcess server, string path, string body)
    {
        var result = await Tool.RunAsync("curl", ["-sS", "-w", "\n%{http_code}", "-X", "POST", "-d", body, server.Url + path]);
        var lines = result.Stdout.TrimEnd().Split('\n');
        return (lines[^1], JsonNode.Parse(string.Join('\n', lines[..^1])));
    }
}
