using System.Text.Json.Nodes;

namespace HttpKv.Compat.Tests;

/// <summary>The REST key API from curl against the real process (Kestrel's raw request target): awkward keys
/// percent-encoded in the path round-trip byte for byte, and If-Match makes a compare-and-swap.</summary>
public sealed class RestCurlTests
{
    private static Task<Tool.Result> CurlAsync(params string[] arguments) =>
        Tool.RunAsync("curl", new[] { "-sS", "--max-time", "20", "--path-as-is", "-w", "\n%{http_code}" }.Concat(arguments));

    private static (string Body, int Status) Split(Tool.Result result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        var cut = result.Stdout.LastIndexOf('\n');
        return (result.Stdout[..cut], int.Parse(result.Stdout[(cut + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Curl_round_trips_awkward_keys_and_swaps_on_the_ETag()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();
        var keys = $"{server.Url}/api/v1/keys";

        var (put, putStatus) = Split(await CurlAsync("-X", "PUT", "--data-binary", "odd value", $"{keys}/dir/per%25cent%20sp%2Bplus/%FF"));
        Assert.Equal(200, putStatus);
        Assert.Equal("base64", (string)JsonNode.Parse(put)!["keyEncoding"]!);
        var expectedKey = "dir/per%cent sp+plus/"u8.ToArray().Append((byte)0xFF).ToArray();
        Assert.Equal(Convert.ToBase64String(expectedKey), (string)JsonNode.Parse(put)!["key"]!);
        Assert.Equal(("odd value", 200), Split(await CurlAsync($"{keys}/dir/per%25cent%20sp%2Bplus/%FF")));
        // The same bytes through etcdctl: the key is exactly what the path spelled.
        var listed = await Tool.EtcdctlAsync(server, null, "get", "dir/", "--prefix", "-w", "json");
        Assert.Equal(Convert.ToBase64String(expectedKey), (string)JsonNode.Parse(listed.Stdout)!["kvs"]![0]!["key"]!);

        var revision = (long)JsonNode.Parse(put)!["revision"]!;
        var (_, conflict) = Split(await CurlAsync("-X", "PUT", "-H", $"If-Match: \"{revision - 1}\"", "--data-binary", "x", $"{keys}/dir/per%25cent%20sp%2Bplus/%FF"));
        Assert.Equal(412, conflict);
        var (_, swapped) = Split(await CurlAsync("-X", "PUT", "-H", $"If-Match: \"{revision}\"", "--data-binary", "new", $"{keys}/dir/per%25cent%20sp%2Bplus/%FF"));
        Assert.Equal(200, swapped);
        Assert.Equal(("new", 200), Split(await CurlAsync($"{keys}/dir/per%25cent%20sp%2Bplus/%FF")));

        var (list, _) = Split(await CurlAsync($"{keys}?prefix=dir/"));
        Assert.Single(JsonNode.Parse(list)!["keys"]!.AsArray());
    }
}

/// <summary>/api/v1/members on a real 3-member cluster: one member reports every member's figures (asked on the peer
/// ports), and a member that is down is reported as such.</summary>
public sealed class MembersApiTests
{
    [Fact]
    public async Task One_member_reports_every_members_status_and_names_the_one_that_is_down()
    {
        await using var cluster = ClusterProcess.Create("httpkv");
        await cluster.StartAsync();
        Assert.Equal(0, (await Tool.EtcdctlAtAsync(cluster.Endpoints, "put", "k", "v")).ExitCode);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        var all = JsonNode.Parse(await http.GetStringAsync($"{cluster[0].Url}/api/v1/members"))!.AsArray();
        Assert.Equal(3, all.Count);
        Assert.All(all, member =>
        {
            Assert.Null(member!["error"]);
            Assert.True((long)member["raftIndex"]! > 0 && (long)member["dbSize"]! > 0 && (long)member["raftTerm"]! >= 2, member.ToJsonString());
            Assert.StartsWith("3.5.", (string)member["version"]!);
        });
        Assert.Single(all.Select(member => (string)member!["leader"]!).Distinct());

        await cluster[2].KillAsync();
        var down = JsonNode.Parse(await http.GetStringAsync($"{cluster[0].Url}/api/v1/members"))!.AsArray();
        var missing = Assert.Single(down, member => member!["error"] is not null)!;
        Assert.Equal(cluster[2].Name, (string)missing["name"]!);
        Assert.Null(missing["raftIndex"]);
    }
}
