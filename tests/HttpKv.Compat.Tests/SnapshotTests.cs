using System.Text.Json;
using System.Text.Json.Nodes;
using HttpKv.Tests.Shared;
using Xunit.Abstractions;

namespace HttpKv.Compat.Tests;

/// <summary>Backup and restore (issue 9) with real processes: `etcdctl snapshot save` against a member, then
/// `snapshot status` and `snapshot restore` — etcdctl's own against etcd (which proves the test right), httpkv's
/// against HttpKv, with the same flags — into a fresh three-member cluster, compared key by key and by HashKV.</summary>
[Collection("cluster")]
public sealed class SnapshotTests(ITestOutputHelper log)
{
    public static TheoryData<string> Kinds() => new() { "etcd", "httpkv" };

    /// <summary>`snapshot status|restore …` with the tool of <paramref name="kind"/>.</summary>
    private static Task<Tool.Result> SnapshotToolAsync(string kind, params string[] arguments) => kind == "etcd"
        ? Tool.RunAsync("etcdctl", ["snapshot", .. arguments])
        : Tool.RunAsync("dotnet", [Paths.HttpKvDll, "snapshot", .. arguments]);

    private static async Task<Tool.Result> MustAsync(string endpoints, params string[] arguments)
    {
        var result = await Tool.EtcdctlAtAsync(endpoints, arguments);
        Assert.True(result.ExitCode == 0, $"etcdctl --endpoints {endpoints} {string.Join(' ', arguments)}: {result}");
        return result;
    }

    /// <summary>Writes a history worth restoring: 40 keys put three times each, 8 deleted, 5 attached to a lease, a
    /// compaction in the middle and writes after it. Returns the lease's ID (hex) and the revision at the end.</summary>
    private static async Task<(string Lease, long Revision)> FillAsync(ServerProcess server)
    {
        for (var round = 1; round <= 3; round++)
        {
            var script = string.Concat(Enumerable.Range(0, 40).Select(i => $"put snap/k{i:D2} value-{i}-{round}\n"));
            // One txn per round: 40 puts, one revision (etcd's --max-txn-ops default is 128).
            await MustTxnAsync(server, script);
        }
        var lease = (await MustAsync(server.Endpoint, "lease", "grant", "600")).Stdout.Split(' ')[1];
        for (var i = 0; i < 5; i++) await MustAsync(server.Endpoint, "put", $"snap/leased{i}", $"leased-{i}", "--lease", lease);
        for (var i = 0; i < 8; i++) await MustAsync(server.Endpoint, "del", $"snap/k{i * 5:D2}");
        var compactAt = Revision(await MustAsync(server.Endpoint, "get", "snap/k01", "-w", "json")) - 3;
        await MustAsync(server.Endpoint, "compaction", compactAt.ToString());
        for (var i = 0; i < 4; i++) await MustAsync(server.Endpoint, "put", $"snap/after{i}", $"after-{i}");
        return (lease, Revision(await MustAsync(server.Endpoint, "get", "snap/k01", "-w", "json")));
    }

    private static async Task MustTxnAsync(ServerProcess server, string successOps)
    {
        // etcdctl txn reads compares, success ops and failure ops, each list ended by an empty line.
        var result = await Tool.EtcdctlAsync(server, "\n" + successOps + "\n\n", "txn");
        Assert.True(result.ExitCode == 0 && result.Stdout.StartsWith("SUCCESS", StringComparison.Ordinal), $"txn: {result}");
    }

    private static long Revision(Tool.Result getJson) =>
        JsonNode.Parse(getJson.Stdout)!["header"]!["revision"]!.GetValue<long>();

    /// <summary>Every key with everything etcd stores of it (key, value, versions, revisions, lease), as JSON text.</summary>
    private static async Task<string> AllKeysAsync(string endpoint)
    {
        var kvs = JsonNode.Parse((await MustAsync(endpoint, "get", "", "--from-key", "-w", "json")).Stdout)!["kvs"]!;
        return kvs.ToJsonString();
    }

    private static async Task<(long Hash, long CompactRevision)> HashKvAsync(string endpoint, long revision)
    {
        var answer = JsonNode.Parse((await MustAsync(endpoint, "endpoint", "hashkv", "--rev", revision.ToString(), "-w", "json")).Stdout)![0]!["HashKV"]!;
        return (answer["hash"]!.GetValue<long>(), answer["compact_revision"]?.GetValue<long>() ?? 0);
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Snapshot_save_status_and_restore_into_a_new_three_member_cluster_keep_every_key_and_the_hash(string kind)
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("httpkv-snapshot-").FullName, "backup.db");
        try
        {
            string lease;
            long revision;
            string keys;
            (long Hash, long CompactRevision) hash;
            await using (var source = ServerProcess.Create(kind))
            {
                await source.StartAsync();
                (lease, revision) = await FillAsync(source);
                keys = await AllKeysAsync(source.Endpoint);
                hash = await HashKvAsync(source.Endpoint, revision);
                if (kind == "httpkv")
                {
                    // An alarm raised on the source belongs to the old cluster: restore clears it (writes work after).
                    var memberId = (await ClusterProcess.StatusAsync([source]))[0].MemberId;
                    using var http = new HttpClient();
                    using var raised = await http.PostAsync($"{source.Url}/v3/maintenance/alarm",
                        new StringContent($$"""{"action":"ACTIVATE","memberID":"{{memberId}}","alarm":"NOSPACE"}"""));
                    Assert.True(raised.IsSuccessStatusCode, await raised.Content.ReadAsStringAsync());
                    Assert.Contains("NOSPACE", (await MustAsync(source.Endpoint, "alarm", "list")).Stdout);
                }
                var saved = await Tool.EtcdctlAsync(source, null, "snapshot", "save", file);
                Assert.True(saved.ExitCode == 0 && saved.Stdout.Contains($"Snapshot saved at {file}"), $"snapshot save: {saved}");
            }
            Assert.Equal(32, new FileInfo(file).Length % 512); // the database and its SHA-256, etcd's "has checksum" rule

            var status = await SnapshotToolAsync(kind, "status", file, "-w", "json");
            Assert.True(status.ExitCode == 0, $"snapshot status: {status}");
            var fields = JsonNode.Parse(status.Stdout)!;
            log.WriteLine($"{kind} status: {status.Stdout.Trim()}");
            Assert.Equal(revision, fields["revision"]!.GetValue<long>());
            Assert.Equal(new FileInfo(file).Length - 32, fields["totalSize"]!.GetValue<long>());
            // etcd counts every stored revision and meta entry: at least the 3 × 40 puts, 5 leased puts, 8 deletes and
            // 4 later puts, less what the compaction removed (superseded revisions of live keys below it).
            Assert.InRange(fields["totalKey"]!.GetValue<long>(), 40 + 5 + 4, 10_000);
            var table = await SnapshotToolAsync(kind, "status", file, "-w", "table");
            // etcdctl's table sizes each column to its widest cell, so the header's spacing follows the hash's digits
            Assert.Matches(@"\|\s+HASH\s+\|\s+REVISION\s+\|\s+TOTAL KEYS\s+\|\s+TOTAL SIZE\s+\|", table.Stdout);
            Assert.Matches($@"\|\s+{fields["hash"]!.GetValue<long>():x}\s+\|\s+{revision}\s+\|", table.Stdout);

            await using var cluster = ClusterProcess.Create(kind);
            foreach (var member in cluster.Members)
            {
                Directory.Delete(member.DataDir); // etcdctl 3.4 refuses a data dir that exists at all
                var restored = await SnapshotToolAsync(kind, "restore", file, "--data-dir", member.DataDir, "--name", member.Name,
                    "--initial-cluster", cluster.InitialCluster, "--initial-cluster-token", ClusterProcess.Token,
                    "--initial-advertise-peer-urls", member.PeerUrl);
                Assert.True(restored.ExitCode == 0, $"snapshot restore for {member.Name}: {restored}");
            }
            await cluster.StartAsync();
            await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, TimeSpan.FromSeconds(30));

            var statuses = await ClusterProcess.StatusAsync(cluster.Members);
            Assert.Single(statuses.Select(status => status.ClusterId).Distinct());
            foreach (var member in cluster.Members)
            {
                Assert.Equal(keys, await AllKeysAsync(member.Endpoint));
                Assert.Equal(hash, await HashKvAsync(member.Endpoint, revision));
            }
            Assert.Equal("", (await MustAsync(cluster.Endpoints, "alarm", "list")).Stdout);
            Assert.Contains(lease, (await MustAsync(cluster.Endpoints, "lease", "list")).Stdout);
            Assert.Contains("snap/leased4", (await MustAsync(cluster.Endpoints, "lease", "timetolive", lease, "--keys")).Stdout);

            // The restored cluster takes writes, at the revisions after the snapshot's.
            var put = await Tool.EtcdctlRetryAsync(cluster.Endpoints, "put", "snap/new", "after-restore", "-w", "json");
            Assert.Equal(revision + 1, JsonNode.Parse(put.Stdout)!["header"]!["revision"]!.GetValue<long>());
            foreach (var member in cluster.Members)
                Assert.Equal("after-restore\n", (await MustAsync(member.Endpoint, "get", "snap/new", "--print-value-only")).Stdout);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public async Task A_snapshot_with_a_flipped_byte_or_cut_short_is_refused_by_status_and_restore_with_one_clear_error()
    {
        var directory = Directory.CreateTempSubdirectory("httpkv-snapshot-").FullName;
        try
        {
            var file = Path.Combine(directory, "backup.db");
            await using (var source = ServerProcess.HttpKv())
            {
                await source.StartAsync();
                for (var i = 0; i < 20; i++) await MustAsync(source.Endpoint, "put", $"k{i}", new string('v', 500));
                var saved = await Tool.EtcdctlAsync(source, null, "snapshot", "save", file);
                Assert.True(saved.ExitCode == 0, $"snapshot save: {saved}");
                Assert.Empty(Directory.EnumerateFiles(Path.Combine(source.DataDir, "member", "snap"), "send-*")); // the copy is gone
                Assert.Contains("Sent a database snapshot to a client", source.Output);
            }
            var good = await File.ReadAllBytesAsync(file);
            Assert.Equal(0, (await SnapshotToolAsync("httpkv", "status", file)).ExitCode);

            var flipped = Path.Combine(directory, "flipped.db");
            var bytes = (byte[])good.Clone();
            bytes[bytes.Length / 2] ^= 0x01;
            await File.WriteAllBytesAsync(flipped, bytes);
            var cut = Path.Combine(directory, "cut.db");
            await File.WriteAllBytesAsync(cut, good.AsSpan(0, good.Length - 1000).ToArray());

            foreach (var (damaged, reason) in new[] { (flipped, "failed its integrity check"), (cut, "no SHA-256 digest at its end") })
            {
                var status = await SnapshotToolAsync("httpkv", "status", damaged);
                Assert.True(status.ExitCode == 1, $"status of {damaged}: {status}");
                var restoreDir = Path.Combine(directory, "restored");
                var restore = await SnapshotToolAsync("httpkv", "restore", damaged, "--data-dir", restoreDir);
                Assert.True(restore.ExitCode == 1, $"restore of {damaged}: {restore}");
                var error = Assert.Single(restore.Stderr.Split('\n'), line => line.StartsWith("Error:", StringComparison.Ordinal));
                Assert.Contains(reason, error);
                Assert.False(Directory.Exists(restoreDir), "a refused restore left a data dir behind");
            }
            // status reads a file without a digest (a database copied from a data dir), so what refuses the cut one
            // there is the backend's own check: its last pages are missing.
            Assert.Contains("truncated", (await SnapshotToolAsync("httpkv", "status", cut)).Stderr);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
