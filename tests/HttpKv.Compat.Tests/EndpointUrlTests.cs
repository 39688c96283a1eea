using System.Text.Json.Nodes;

namespace HttpKv.Compat.Tests;

/// <summary>etcdctl 3.4 dials each endpoint of <c>endpoint status</c> and <c>endpoint hashkv</c> by its whole URL and
/// sends it as the HTTP/2 <c>:authority</c> (<c>http://127.0.0.1:2379</c>), which Kestrel alone refuses as an invalid
/// host (bug 1 of docs/ROBUSTNESS.md). Against both servers these commands must work with http:// endpoints, as
/// every etcd runbook writes them.</summary>
public sealed class EndpointUrlTests
{
    [Theory]
    [InlineData("etcd")]
    [InlineData("httpkv")]
    public async Task Endpoint_status_and_hashkv_work_with_URL_endpoints(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        var endpoints = $"{server.Url},http://localhost:{server.ClientPort}";
        Assert.Equal(0, (await Tool.EtcdctlAtAsync(endpoints, "put", "k", "v")).ExitCode);

        var status = await Tool.EtcdctlAtAsync(endpoints, "endpoint", "status", "-w", "json");
        var hashes = await Tool.EtcdctlAtAsync(endpoints, "endpoint", "hashkv", "-w", "json");

        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.True(hashes.ExitCode == 0, hashes.ToString());
        var statuses = JsonNode.Parse(status.Stdout)!.AsArray();
        Assert.Equal([server.Url, $"http://localhost:{server.ClientPort}"], statuses.Select(s => (string)s!["Endpoint"]!));
        Assert.All(statuses, s => Assert.True((long)s!["Status"]!["header"]!["revision"]! >= 2));
        var hashValues = JsonNode.Parse(hashes.Stdout)!.AsArray().Select(h => (long)h!["HashKV"]!["hash"]!).ToList();
        Assert.Equal(hashValues[0], hashValues[1]);
        Assert.NotEqual(0, hashValues[0]);
    }
}
