using System.Text.Json.Nodes;
using Etcdserverpb;
using Google.Protobuf;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>The /v3 JSON routes through WebApplicationFactory: etcd's gateway shapes, aliases and errors.</summary>
public sealed class KvGatewayTests : MemberTest
{

    [Fact]
    public async Task Put_then_range_returns_the_value_in_gateway_json()
    {
        var put = await Client.PostOkAsync("/v3/kv/put", new { key = B64("foo"), value = B64("bar") });
        var header = put["header"]!.AsObject();
        Assert.Equal("2", (string)header["revision"]!);
        Assert.Equal("cdf818194e3a8c32", ulong.Parse((string)header["cluster_id"]!).ToString("x"));
        Assert.Equal("8e9e05c52164694d", ulong.Parse((string)header["member_id"]!).ToString("x"));
        Assert.NotNull(header["raft_term"]);

        var range = await Client.PostOkAsync("/v3/kv/range", new { key = B64("foo") });
        var kv = range["kvs"]![0]!.AsObject();
        Assert.Equal("foo", Text(kv["key"]));
        Assert.Equal("bar", Text(kv["value"]));
        Assert.Equal("2", (string)kv["create_revision"]!);
        Assert.Equal("2", (string)kv["mod_revision"]!);
        Assert.Equal("1", (string)kv["version"]!);
        Assert.Equal("1", (string)range["count"]!);
        Assert.Null(range["more"]);
    }

    [Fact]
    public async Task A_put_over_grpc_is_read_over_json()
    {
        using var channel = Factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        var put = await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("door"), Value = ByteString.CopyFromUtf8("grpc") });
        Assert.Equal(2, put.Header.Revision);

        var range = await Client.PostOkAsync("/v3/kv/range", new { key = B64("door") });
        Assert.Equal("grpc", Text(range["kvs"]![0]!["value"]));

        var grpcRange = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("door") });
        Assert.Equal("grpc", grpcRange.Kvs[0].Value.ToStringUtf8());
    }

    [Theory]
    [InlineData("/v3beta/kv/range")]
    [InlineData("/v3alpha/kv/range")]
    public async Task Older_api_prefixes_are_aliases(string path)
    {
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("a"), value = B64("1") });
        var range = await Client.PostOkAsync(path, new { key = B64("a") });
        Assert.Equal("1", Text(range["kvs"]![0]!["value"]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task The_body_is_json_whatever_the_content_type(string? contentType)
    {
        var (status, body) = await Client.PostAsync("/v3/kv/put", $$"""{"key":"{{B64("ct")}}","value":"{{B64("v")}}"}""", contentType);
        Assert.Equal(200, status);
        Assert.Equal("2", (string)body["header"]!["revision"]!);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"key": "***not base64***"}""")]
    [InlineData("""{"key": 17}""")]
    [InlineData("[]")]
    public async Task Malformed_bodies_get_400_and_the_server_keeps_serving(string body)
    {
        var (status, error) = await Client.PostAsync("/v3/kv/put", body);
        Assert.Equal(400, status);
        Assert.Equal(3, (int)error["code"]!);
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("after"), value = B64("ok") });
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_read_as_gos_decoder_reads_it()
    {
        // Go takes bytes that are not UTF-8 inside strings: here a field name nobody knows (ignored), then a key that
        // is not base64; outside a string such a byte is a syntax error. 400 each time, never a 500.
        (byte[] Body, string Error)[] cases =
        [
            ([.. "{\""u8, 0xff, 0xfe, .. "me\":\"r\"}"u8], "etcdserver: key is not provided"),
            ([.. "{\"key\":\""u8, 0xff, .. "\"}"u8], "illegal base64 data at input byte 0"),
            ([.. "{\"key\":"u8, 0xff, .. "}"u8], "invalid character 'ÿ' looking for beginning of value"),
        ];
        foreach (var (body, error) in cases)
        {
            using var content = new ByteArrayContent(body);
            using var response = await Client.PostAsync("/v3/kv/put", content);
            Assert.Equal(400, (int)response.StatusCode);
            Assert.Equal($$"""{"error":"{{error}}","code":3,"message":"{{error}}"}""", await response.Content.ReadAsStringAsync());
        }
    }

    public static TheoryData<string, object, int, int, string> EtcdErrors => new()
    {
        { "/v3/kv/put", new { value = B64("v") }, 400, 3, "etcdserver: key is not provided" },
        { "/v3/kv/range", new { key = B64("k"), revision = "99" }, 400, 11, "etcdserver: mvcc: required revision is a future revision" },
        { "/v3/kv/put", new { key = B64("k"), lease = "7" }, 404, 5, "etcdserver: requested lease not found" },
        { "/v3/kv/txn", new { success = new[] { Put("k"), Put("k") } }, 400, 3, "etcdserver: duplicate key given in txn request" },
        { "/v3/kv/txn", new { success = Enumerable.Range(0, 129).Select(i => Put($"k{i}")).ToArray() }, 400, 3, "etcdserver: too many operations in txn request" },
        { "/v3/kv/compaction", new { revision = "50" }, 400, 11, "etcdserver: mvcc: required revision is a future revision" },
    };

    private static object Put(string key) => new { request_put = new { key = B64(key), value = B64("v") } };

    [Theory]
    [MemberData(nameof(EtcdErrors))]
    public async Task Errors_come_back_as_etcd_35_gateway_errors(string path, object body, int httpStatus, int grpcCode, string message)
    {
        var (status, error) = await Client.PostAsync(path, System.Text.Json.JsonSerializer.Serialize(body));
        Assert.Equal(httpStatus, status);
        Assert.Equal(grpcCode, (int)error["code"]!);
        Assert.Equal(message, (string)error["error"]!);
        Assert.Equal(message, (string)error["message"]!);
    }

    [Fact]
    public async Task Reads_below_the_compacted_revision_fail()
    {
        for (var i = 0; i < 3; i++) await Client.PostOkAsync("/v3/kv/put", new { key = B64("c"), value = B64($"v{i}") });
        await Client.PostOkAsync("/v3/kv/compaction", new { revision = "3", physical = true });
        var (status, error) = await Client.PostAsync("/v3/kv/range", $$"""{"key":"{{B64("c")}}","revision":"2"}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", (string)error["error"]!);
        var atThree = await Client.PostOkAsync("/v3/kv/range", new { key = B64("c"), revision = "3" });
        Assert.Equal("v1", Text(atThree["kvs"]![0]!["value"]));
    }

    [Fact]
    public async Task A_txn_answers_with_nested_responses_in_one_revision()
    {
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("t"), value = B64("1") });
        var txn = await Client.PostOkAsync("/v3/kv/txn", new
        {
            compare = new[] { new { key = B64("t"), target = "VALUE", result = "EQUAL", value = B64("1") } },
            success = new object[] { Put("t2"), new { request_range = new { key = B64("t") } } },
            failure = new object[] { Put("t3") },
        });
        Assert.True((bool)txn["succeeded"]!);
        Assert.Equal("3", (string)txn["header"]!["revision"]!);
        Assert.NotNull(txn["responses"]![0]!["response_put"]);
        Assert.Equal("1", Text(txn["responses"]![1]!["response_range"]!["kvs"]![0]!["value"]));
    }

    [Fact]
    public async Task Delete_range_by_prefix_returns_the_deleted_pairs()
    {
        foreach (var key in new[] { "p/1", "p/2", "q" }) await Client.PostOkAsync("/v3/kv/put", new { key = B64(key), value = B64(key) });
        var deleted = await Client.PostOkAsync("/v3/kv/deleterange", new { key = B64("p/"), range_end = B64("p0"), prev_kv = true });
        Assert.Equal("2", (string)deleted["deleted"]!);
        Assert.Equal(["p/1", "p/2"], deleted["prev_kvs"]!.AsArray().Select(kv => Text(kv!["key"])));
        var rest = await Client.PostOkAsync("/v3/kv/range", new { key = B64("\0"), range_end = B64("\0") });
        Assert.Equal("1", (string)rest["count"]!);
    }

    [Fact]
    public async Task Version_and_health_are_shaped_like_etcds()
    {
        var version = JsonNode.Parse(await Client.GetStringAsync("/version"))!;
        Assert.StartsWith("3.5.", (string)version["etcdserver"]!);
        Assert.Equal("3.5.0", (string)version["etcdcluster"]!);
        var health = JsonNode.Parse(await Client.GetStringAsync("/health"))!;
        Assert.Equal("true", (string)health["health"]!);
    }
}
