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

    /// <summary>etcd lists a lease's keys from a Go map, in no fixed order: the transcript sorts them.</summary>
    [GeneratedRegex(@"attached keys\(\[([^\]]*)\]\)")]
    private static partial Regex AttachedKeys();

    private static string SortAttachedKeys(string text) => AttachedKeys().Replace(text, match =>
        $"attached keys([{string.Join(' ', match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal))}])");

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
            transcript.Add(SortAttachedKeys(Remaining().Replace(text, "remaining(<N>s)")));
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

    /// <summary>A lease's key is there until shortly before the TTL and gone within TTL + 1 s of the grant. Each
    /// observation is bounded by the client's own monotonic clock, so a slow machine can make a check inconclusive
    /// but never wrong: a read that completes before (grant sent + TTL − 0.5 s) must still see the key (the server
    /// starts the TTL after it received the grant); a read sent after (grant answered + TTL + 1 s + slack) must not
    /// (the server started the TTL before it answered). The 1 s is etcd's bound (expiry checked every 500 ms, then
    /// a revoke through the log); the slack of 1 s is for this busy 2-core machine: GC pauses and the other builds
    /// can delay the expiry loop and the revoke's fsync. An inconclusive round is run again, up to 3 times.</summary>
    [Theory, MemberData(nameof(Kinds))]
    public async Task A_lease_key_lives_until_shortly_before_the_ttl_and_is_gone_within_ttl_plus_1_s(string kind)
    {
        const int Ttl = 3;
        var slack = TimeSpan.FromSeconds(1);
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(server.Url);
        var leases = new Etcdserverpb.Lease.LeaseClient(channel);
        var kv = new Etcdserverpb.KV.KVClient(channel);
        var key = Google.Protobuf.ByteString.CopyFromUtf8("expiring");
        async Task<bool> PresentAsync() => (await kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = key })).Kvs.Count > 0;

        var conclusive = false;
        for (var round = 0; round < 3 && !conclusive; round++)
        {
            var sent = System.Diagnostics.Stopwatch.StartNew();
            var lease = await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = Ttl });
            var answered = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(Ttl, lease.TTL);
            await kv.PutAsync(new Etcdserverpb.PutRequest { Key = key, Value = Google.Protobuf.ByteString.CopyFromUtf8("v"), Lease = lease.ID });

            var beforeTtl = TimeSpan.FromSeconds(Ttl - 0.5);
            if (sent.Elapsed < beforeTtl - TimeSpan.FromMilliseconds(300)) await Task.Delay(beforeTtl - TimeSpan.FromMilliseconds(300) - sent.Elapsed);
            var present = await PresentAsync();
            var presentCheckConclusive = sent.Elapsed < beforeTtl;
            if (presentCheckConclusive) Assert.True(present, $"{kind}: the key was gone {sent.Elapsed.TotalSeconds:F2} s after the grant was sent (TTL {Ttl} s)");

            var goneBy = TimeSpan.FromSeconds(Ttl + 1) + slack;
            while (true)
            {
                var readSent = answered.Elapsed;
                if (!await PresentAsync()) break;
                Assert.True(readSent < goneBy, $"{kind}: the key was still there {readSent.TotalSeconds:F2} s after the grant's answer (TTL {Ttl} s)");
                await Task.Delay(100);
            }
            conclusive = presentCheckConclusive;
        }
        Assert.True(conclusive, "three rounds in a row were too slow to check the key before the TTL");
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
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script);
    }

    /// <summary>python3-etcd3gw's lease over the JSON gateway, keep-alive stream included. etcd3gw calls /v3alpha by
    /// default, which etcd 3.4 dropped; the oracle gets /v3beta, HttpKv the default.</summary>
    [Fact]
    public async Task Python_etcd3gw_lease_as_against_etcd()
    {
        const string script = """
            import sys
            from etcd3gw.client import Etcd3Client
            kwargs = {'api_path': sys.argv[2]} if len(sys.argv) > 2 else {}
            c = Etcd3Client(host='127.0.0.1', port=int(sys.argv[1]), **kwargs)
            l = c.lease(30)
            print(c.put('/gwl/a', 'one', lease=l), c.put('/gwl/b', 'two', lease=l))
            print(0 < l.ttl() <= 30, sorted(k.decode() if isinstance(k, bytes) else k for k in l.keys()))
            print(l.refresh())
            print(l.revoke(), c.get('/gwl/a'), l.ttl(), l.refresh())
            """;
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script, "/v3beta/");
    }

    public static TheoryData<string> Kinds() => new() { "etcd", "httpkv" };

    /// <summary>Keep-alives sent through one follower keep a lease across a leadership transfer and the leader's
    /// kill -9 (a follower forwards them to whichever member leads); once they stop, its key disappears.</summary>
    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_keep_alives_through_a_follower_survive_leader_changes_and_expiry_follows_when_they_stop(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, TimeSpan.FromSeconds(30));
        var leader = cluster.MemberWithId(statuses[0].Leader, statuses);
        var followers = cluster.Members.Where(member => member != leader).ToList();
        var (through, next) = (followers[0], followers[1]);
        var nextId = statuses.Single(status => status.Endpoint == next.Endpoint).MemberId;

        var lease = Granted().Match((await Tool.EtcdctlRetryAsync(through.Endpoint, "lease", "grant", "5")).Stdout).Groups[1].Value;
        await Tool.EtcdctlRetryAsync(through.Endpoint, "put", "--lease=" + lease, "held", "by-lease");

        using var stop = new CancellationTokenSource();
        var keepAlives = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Tool.EtcdctlAtAsync(through.Endpoint, "--command-timeout", "3s", "lease", "keep-alive", "--once", lease);
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        async Task AssertHeldForAsync(TimeSpan span)
        {
            var until = DateTime.UtcNow + span;
            while (DateTime.UtcNow < until)
            {
                var got = await Tool.EtcdctlAtAsync(through.Endpoint, "--command-timeout", "5s", "get", "held", "--print-value-only", "--consistency=s");
                Assert.True(got.ExitCode != 0 || got.Stdout == "by-lease\n", $"the key disappeared while keep-alives continued: {got}");
                await Task.Delay(500);
            }
        }
        try
        {
            await Tool.EtcdctlRetryAsync(leader.Endpoint, "move-leader", nextId.ToString("x"));
            await AssertHeldForAsync(TimeSpan.FromSeconds(8));
            statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, TimeSpan.FromSeconds(30));
            var current = cluster.MemberWithId(statuses[0].Leader, statuses);
            if (current == through) current = next; // keep the member the keep-alives go through
            await cluster.KillAsync(current);
            var survivors = cluster.Members.Where(member => member != current).ToList();
            await ClusterProcess.WaitForOneLeaderAsync(survivors, TimeSpan.FromSeconds(30));
            await AssertHeldForAsync(TimeSpan.FromSeconds(8));
        }
        finally
        {
            await stop.CancelAsync();
            await keepAlives;
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); // TTL + 1 s, with room for a busy machine
        while (true)
        {
            var got = await Tool.EtcdctlAtAsync(through.Endpoint, "--command-timeout", "5s", "get", "held", "--print-value-only");
            if (got.ExitCode == 0 && got.Stdout.Length == 0) break;
            Assert.True(DateTime.UtcNow < deadline, $"the key outlived its lease by far: {got}");
            await Task.Delay(300);
        }
    }
}
