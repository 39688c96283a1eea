using System.Net;
using System.Text;

namespace HttpKv.Tests.Api;

/// <summary>The correlation id of the request logs, and /metrics moving as the gateway is used (the text is parsed
/// by a real Prometheus parser in the compatibility tests).</summary>
public sealed class RequestMetricsTests : MemberTest
{
    [Fact]
    public async Task A_sane_request_id_is_echoed_and_one_is_made_otherwise()
    {
        using var given = new HttpRequestMessage(HttpMethod.Get, "/version");
        given.Headers.Add("X-Request-Id", "client-chose-this-1");
        using var echoed = await Client.SendAsync(given);
        Assert.Equal("client-chose-this-1", Assert.Single(echoed.Headers.GetValues("X-Request-Id")));

        using var insane = new HttpRequestMessage(HttpMethod.Get, "/version");
        insane.Headers.TryAddWithoutValidation("X-Request-Id", new string('x', 500));
        using var replaced = await Client.SendAsync(insane);
        var made = Assert.Single(replaced.Headers.GetValues("X-Request-Id"));
        Assert.NotEqual(new string('x', 500), made);
        Assert.NotEmpty(made);
    }

    [Fact]
    public async Task Metrics_carry_a_build_info_series_with_the_commit_and_the_etcd_api_version()
    {
        var text = await Client.GetStringAsync("/metrics");
        var line = Assert.Single(text.Split('\n'), line => line.StartsWith("httpkv_build_info{", StringComparison.Ordinal));
        Assert.Matches("commit=\"[0-9a-f]{40}\",", line);
        Assert.Contains($"etcd_api_version=\"{HttpKv.Server.EtcdVersion.Server}\"", line);
        Assert.EndsWith("} 1", line);
    }

    [Fact]
    public async Task A_grpc_call_echoes_only_the_clients_own_request_id()
    {
        using var channel = Factory.CreateGrpcChannel();
        var kv = new Etcdserverpb.KV.KVClient(channel);
        var without = kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("k") });
        await without;
        Assert.DoesNotContain((await without.ResponseHeadersAsync).Select(entry => entry.Key), key => key == "x-request-id");

        var with = kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("k") },
            new Grpc.Core.Metadata { { "X-Request-Id", "grpc-client-chose-this" } });
        await with;
        Assert.Equal("grpc-client-chose-this", (await with.ResponseHeadersAsync).GetValue("x-request-id"));
    }

    [Fact]
    public async Task Metrics_count_gateway_requests_by_route_template()
    {
        for (var i = 0; i < 3; i++)
        {
            using var put = await Client.PostAsync("/v3/kv/put", new StringContent($$"""{"key":"{{Convert.ToBase64String(Encoding.UTF8.GetBytes($"k{i}"))}}","value":"dg=="}"""));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        using var response = await Client.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');
        // Process-wide (other tests' members count too), so at least this test's three.
        var puts = lines.Where(line => line.StartsWith("http_requests_received_total{", StringComparison.Ordinal)
            && line.Contains("endpoint=\"/v3/kv/put\"", StringComparison.Ordinal));
        Assert.True(puts.Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) >= 3,
            string.Join('\n', puts));
        Assert.Contains("etcd_debugging_mvcc_keys_total 3", lines);
        Assert.Contains("etcd_server_has_leader 1", lines);
    }
}
