using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace HttpKv.Compat.Tests;

/// <summary>A data dir written by an earlier HttpKv opens in this one with everything it held. The fixture
/// (Fixtures/datadir-format1.tar.gz) is a whole data dir written by main at 61b4112, whose backend is of format 1
/// (numbers in the machine's byte order): one member "fixture" (--initial-cluster-token format1), keys alpha=uno,
/// beta=two and gamma=three at revision 5, users root and reader (role readers: read alpha), auth enabled at auth
/// revision 9; stopped with SIGTERM.</summary>
public sealed class DataDirFormatTests
{
    private const string Fixture = "datadir-format1.tar.gz";
    private const ulong ClusterId = 2047906526498289044;
    private const ulong MemberId = 9027449818616497081;

    [Fact]
    public async Task A_format_1_data_dir_keeps_its_identity_data_and_auth_across_the_upgrade_and_a_second_restart()
    {
        await using var server = ServerProcess.HttpKv("--name", "fixture", "--initial-advertise-peer-urls", "http://127.0.0.1:14480",
            "--initial-cluster", "fixture=http://127.0.0.1:14480", "--initial-cluster-token", "format1");
        await ExtractFixtureAsync(server.DataDir);

        for (var start = 0; start < 2; start++)
        {
            await server.StartAsync();

            var status = await Tool.EtcdctlAtAsync(server.Url, "--user", "root:rootpw", "endpoint", "status", "-w", "json");
            Assert.True(status.ExitCode == 0, status.ToString());
            var header = JsonNode.Parse(status.Stdout)![0]!["Status"]!["header"]!;
            Assert.Equal(ClusterId, header["cluster_id"]!.GetValue<ulong>());
            Assert.Equal(MemberId, header["member_id"]!.GetValue<ulong>());
            Assert.Equal(5, header["revision"]!.GetValue<long>());
            Assert.InRange(header["raft_term"]!.GetValue<ulong>(), 3UL, 10UL); // the fixture's term 2, plus an election per start

            var all = await Tool.EtcdctlAtAsync(server.Url, "--user", "root:rootpw", "get", "", "--prefix");
            Assert.Equal("alpha\nuno\nbeta\ntwo\ngamma\nthree\n", all.Stdout);
            Assert.Equal("uno\n", (await Tool.EtcdctlAtAsync(server.Url, "--user", "reader:readpw", "get", "alpha", "--print-value-only")).Stdout);
            var refused = await Tool.EtcdctlAtAsync(server.Url, "--user", "reader:readpw", "get", "beta");
            Assert.Contains("permission denied", refused.Stderr);

            var auth = await AuthStatusAsync(server);
            Assert.True(auth["enabled"]!.GetValue<bool>());
            Assert.Equal("9", auth["authRevision"]!.GetValue<string>());

            await server.TerminateAsync();
            Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), server.Output);
        }
        Assert.Single(server.Output.Split('\n'), line => line.Contains("upgraded from format 1 to 2"));
    }

    [Fact]
    public async Task A_format_1_backend_as_a_snapshot_reports_its_status_as_taken_and_restores_with_its_auth()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-format1-snapshot-").FullName;
        try
        {
            await ExtractFixtureAsync(root);
            var snapshot = Path.Combine(root, "member", "snap", "db"); // a backend file is a snapshot without its SHA-256

            // What 61b4112 printed for this file: status reads it as it was taken, upgrading nothing.
            var status = await Tool.RunAsync("dotnet", [Paths.HttpKvDll, "snapshot", "status", snapshot, "-w", "json"]);
            Assert.Equal("{\"hash\":951343116,\"revision\":5,\"totalKey\":15,\"totalSize\":61440}\n", status.Stdout);

            await using var server = ServerProcess.Member("httpkv", "default", member => ["--initial-cluster", $"default={member.PeerUrl}"]);
            Directory.Delete(server.DataDir);
            var restore = await Tool.RunAsync("dotnet", [Paths.HttpKvDll, "snapshot", "restore", snapshot, "--data-dir", server.DataDir, "--skip-hash-check",
                "--initial-cluster", $"default={server.PeerUrl}", "--initial-advertise-peer-urls", server.PeerUrl]);
            Assert.True(restore.ExitCode == 0, restore.ToString());
            await server.StartAsync();

            Assert.Equal("uno\n", (await Tool.EtcdctlAtAsync(server.Url, "--user", "reader:readpw", "get", "alpha", "--print-value-only")).Stdout);
            var auth = await AuthStatusAsync(server);
            Assert.Equal("9", auth["authRevision"]!.GetValue<string>());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task ExtractFixtureAsync(string directory)
    {
        var extract = await Tool.RunAsync("tar", ["xzf", Path.Combine(Paths.RepositoryRoot, "tests", "HttpKv.Compat.Tests", "Fixtures", Fixture), "-C", directory]);
        Assert.True(extract.ExitCode == 0, extract.ToString());
    }

    /// <summary>/v3/auth/status as root (whose token the gateway's authenticate gives).</summary>
    private static async Task<JsonNode> AuthStatusAsync(ServerProcess server)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        var login = await http.PostAsJsonAsync("/v3/auth/authenticate", new { name = "root", password = "rootpw" });
        var token = JsonNode.Parse(await login.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
        using var status = new HttpRequestMessage(HttpMethod.Post, "/v3/auth/status") { Content = new StringContent("{}") };
        status.Headers.TryAddWithoutValidation("Authorization", token);
        return JsonNode.Parse(await (await http.SendAsync(status)).Content.ReadAsStringAsync())!;
    }
}
