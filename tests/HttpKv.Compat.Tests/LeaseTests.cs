using System.Text.RegularExpressions;

namespace HttpKv.Compat.Tests;

/// <summary>Leases (issue 5) with etcdctl and python3-etcd3, compared with the real etcd where the output is
/// deterministic once the random lease IDs and the remaining seconds are masked. Deadlines are generous liveness bounds.</summary>
[Collection("cluster")]
public sealed partial class LeaseTests
{
    [GeneratedRegex(@"^lease ([0-9a-f]+) granted with TTL\((\d+)s\)")]
    private static partial Regex Granted();

    [GeneratedRegex(@"remaining\(-?\d+s\)")]
    private static partial Regex Remaining();

    /// <summary>The etcdctl lease commands on one server; IDs (hex and decimal) and the remaining seconds masked.</summary>
    private static async Task<List<string>> LeaseTranscriptAsync(ServerProcess server)
    {
        var transcript = new List<string>();
        var ids = new List<long>();
        async Task<string> RunAsync(params string[] arguments)
        {
            var result = await Tool.EtcdctlAsync(server, null, arguments);
            var errors = string.Join('\n', result.Stderr.Split('\n').Where(line => line.StartsWith("Error", StringComparison.Ordinal)));
            var text = $"etcdctl {string.Join(' ', arguments)}\nexit {result.ExitCode}\n{result.Stdout}{errors}";
            foreach (var (id, index) in ids.Select((id, index) => (id, index)))
                text = text.Replace(id.ToString("x"), $"<ID{index}>").Replace(id.ToString(), $"<ID{index}>");
            transcript.Add(Remaining().Replace(text, "remaining(<N>s)"));
            return result.Stdout;
        }
        async Task<string> GrantAsync(string ttl)
        {
            var result = await Tool.EtcdctlAsync(server, null, "lease", "grant", ttl);
            var match = Granted().Match(result.Stdout);
            Assert.True(match.Success, result.ToString());
            ids.Add(Convert.ToInt64(match.Groups[1].Value, 16));
            transcript.Add($"lease grant {ttl}: TTL {match.Groups[2].Value}");
            return match.Groups[1].Value;
        }

        var lease = await GrantAsync("60");
        await RunAsync("put", "--lease=" + lease, "a", "1");
        await RunAsync("put", "--lease=" + lease, "b", "2");
        await RunAsync("put", "c", "3");
        await RunAsync("get", "a", "-w", "json");
        await RunAsync("lease", "timetolive", lease, "--keys");
        await RunAsync("lease", "timetolive", lease);
        await RunAsync("lease", "list");
        await RunAsync("lease", "keep-alive", "--once", lease);
        await RunAsync("put", "--lease=1234", "d", "4");
        await RunAsync("lease", "revoke", lease);
        await RunAsync("get", "", "--from-key", "-w", "json");
        await RunAsync("lease", "timetolive", lease);
        await RunAsync("lease", "revoke", lease);
        await RunAsync("lease", "keep-alive", "--once", lease);
        await RunAsync("lease", "list");
        var small = await GrantAsync("1"); // raised to the minimum TTL
        await RunAsync("lease", "revoke", small);
        return transcript;
    }

    [Fact]
    public async Task Etcdctl_lease_commands_print_as_against_etcd()
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        var expected = await LeaseTranscriptAsync(etcd);
        var actual = await LeaseTranscriptAsync(httpKv);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public async Task Keys_of_a_lease_disappear_after_keep_alives_stop()
    {
        await using var httpKv = ServerProcess.HttpKv();
        await httpKv.StartAsync();
        var grant = await Tool.EtcdctlAsync(httpKv, null, "lease", "grant", "2");
        var lease = Granted().Match(grant.Stdout).Groups[1].Value;
        Assert.Equal(0, (await Tool.EtcdctlAsync(httpKv, null, "put", "--lease=" + lease, "short", "lived")).ExitCode);
        for (var i = 0; i < 4; i++)
        {
            var kept = await Tool.EtcdctlAsync(httpKv, null, "lease", "keep-alive", "--once", lease);
            Assert.Contains("keepalived with TTL(2)", kept.Stdout, StringComparison.Ordinal);
            Assert.Equal("lived\n", (await Tool.EtcdctlAsync(httpKv, null, "get", "short", "--print-value-only")).Stdout);
            await Task.Delay(500);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20); // TTL + 1 s, with room for a busy machine
        while ((await Tool.EtcdctlAsync(httpKv, null, "get", "short", "--print-value-only")).Stdout.Length > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the key outlived its lease by far");
            await Task.Delay(200);
        }
        Assert.Contains("already expired", (await Tool.EtcdctlAsync(httpKv, null, "lease", "timetolive", lease)).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_etcd3_lease_as_against_etcd()
    {
        const string script = """
            import sys, etcd3
            c = etcd3.client(host='127.0.0.1', port=int(sys.argv[1]))
            l = c.lease(30)
            c.put('/lease/a', 'one', lease=l)
            c.put('/lease/b', 'two', lease=l)
            print(l.granted_ttl, sorted(k.decode() for k in l.keys))
            print(l.refresh()[0].TTL)
            print(c.get('/lease/a')[1].lease_id == l.id)
            l.revoke()
            print(c.get('/lease/a')[0], l.remaining_ttl)
            """;
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        var expected = await Tool.PythonAsync(script, etcd.ClientPort.ToString());
        var actual = await Tool.PythonAsync(script, httpKv.ClientPort.ToString());
        Assert.True(expected.ExitCode == 0, "against etcd: " + expected);
        Assert.True(actual.ExitCode == 0, "against httpkv: " + actual);
        Assert.Equal(expected.Stdout, actual.Stdout);
    }
}
