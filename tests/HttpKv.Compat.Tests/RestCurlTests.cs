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
