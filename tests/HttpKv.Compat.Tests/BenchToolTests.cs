using System.Text.Json;
using Xunit.Abstractions;

namespace HttpKv.Compat.Tests;

/// <summary>httpkv-bench (issue 8) against a real httpkv process: each workload with a small total finishes with every
/// operation counted and no error, and the watch workload sees every event at every watcher. The built tool is run as
/// a user would (dotnet httpkv-bench.dll) and its --json output is read.</summary>
[Collection("cluster")]
public sealed class BenchToolTests(ITestOutputHelper log)
{
    private async Task<JsonElement> BenchAsync(ServerProcess server, params string[] arguments)
    {
        var result = await Tool.RunAsync("dotnet",
            new[] { Paths.HttpKvBenchDll }.Concat(arguments).Concat(["--endpoints", server.Url, "--quiet", "--json", "-"]));
        log.WriteLine($"httpkv-bench {string.Join(' ', arguments)}: {result.Stdout.Trim()}");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    private static void AssertClean(JsonElement json, long total)
    {
        Assert.Equal(total, json.GetProperty("ops").GetInt64());
        Assert.Equal(0, json.GetProperty("errors").GetInt64());
        Assert.Empty(json.GetProperty("errorCounts").EnumerateObject());
        var latency = json.GetProperty("latencyMs");
        Assert.True(latency.GetProperty("min").GetDouble() > 0, json.ToString());
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble(), json.ToString());
        Assert.True(latency.GetProperty("p99").GetDouble() <= latency.GetProperty("max").GetDouble(), json.ToString());
        Assert.True(json.GetProperty("opsPerSec").GetDouble() > 0, json.ToString());
    }

    [Fact]
    public async Task EveryNetworkWorkloadRunsCleanAgainstHttpKv()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();

        var put = await BenchAsync(server, "put", "--total", "300", "--clients", "4", "--conns", "2", "--key-space-size", "50");
        AssertClean(put, 300);
        Assert.Equal("put", put.GetProperty("workload").GetString());
        Assert.Equal(4, put.GetProperty("clients").GetInt32());

        AssertClean(await BenchAsync(server, "range", "--consistency=s", "--total", "300", "--clients", "2", "--key-space-size", "50"), 300);

        var http = await BenchAsync(server, "put", "--transport", "http", "--total", "300", "--clients", "4", "--conns", "2", "--val-size", "12");
        AssertClean(http, 300);
        Assert.Equal("http", http.GetProperty("transport").GetString());

        var watch = await BenchAsync(server, "watch", "--watchers", "20", "--puts", "200", "--watch-streams", "4", "--clients", "2");
        AssertClean(watch, 200);
        var delivery = watch.GetProperty("watch");
        Assert.Equal(20 * 200, delivery.GetProperty("expected").GetInt64());
        Assert.Equal(delivery.GetProperty("expected").GetInt64(), delivery.GetProperty("delivered").GetInt64());

        AssertClean(await BenchAsync(server, "lease-keepalive", "--total", "300", "--clients", "2"), 300);

        // What a put --transport http stored is readable as the value the bench wrote.
        var get = await Tool.EtcdctlAsync(server, null, "get", "00000000", "--print-value-only");
        Assert.Equal("abcdefghijkl", get.Stdout.Trim());
    }

    [Fact]
    public async Task BadFlagsExitWithCode2()
    {
        foreach (var arguments in new[] { new[] { "put", "--clients", "x" }, ["nope"], ["watch", "--transport", "http"], ["put", "--what"] })
        {
            var result = await Tool.RunAsync("dotnet", new[] { Paths.HttpKvBenchDll }.Concat(arguments));
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.StartsWith("httpkv-bench: ", result.Stderr, StringComparison.Ordinal);
        }
    }
}
