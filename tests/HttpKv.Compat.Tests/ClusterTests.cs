using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using dotnet_etcd;
using Xunit.Abstractions;

namespace HttpKv.Compat.Tests;

/// <summary>The cluster tests share the machine's two cores with nothing else: three to four servers each.</summary>
[CollectionDefinition("cluster", DisableParallelization = true)]
public sealed class ClusterCollection;

/// <summary>Raft on real processes (issue 4): every test runs against the real etcd 3.4 first, which proves the test
/// itself right, and against HttpKv with the same flags and the same etcdctl commands. Deadlines are generous and
/// polled; nothing is asserted about timing beyond liveness.
/// etcd 3.4 facts the assertions rest on: `member add/promote/remove` print IDs with %16x (space-padded);
/// `endpoint status -w json` omits zero fields ("leader" while there is none, "isLearner" when false); reconfiguration
/// is refused with "etcdserver: unhealthy cluster" in the first seconds and promotion with "etcdserver: can only promote
/// a learner member which is in sync with leader" (both retried here); a removed member's process exits by itself;
/// without a quorum a put and a linearizable get both end in "Error: context deadline exceeded" (the 5 s command timeout).</summary>
[Collection("cluster")]
public sealed partial class ClusterTests(ITestOutputHelper log)
{
    private static readonly TimeSpan LeaderDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan CatchUpDeadline = TimeSpan.FromSeconds(45);

    /// <summary>The errors etcd gives for a write or a linearizable read that cannot reach a quorum (the last line of
    /// etcdctl's output ends with one; etcd sometimes wraps the deadline as "rpc error: code = Unknown desc = …").</summary>
    private static readonly string[] NoQuorumErrors =
    [
        "context deadline exceeded", "etcdserver: request timed out", "etcdserver: no leader", "etcdserver: leader changed",
    ];

    /// <summary>Every test runs against the real etcd (which proves the test right) and against HttpKv.</summary>
    public static TheoryData<string> Kinds() => new() { "etcd", "httpkv" };

    [Theory, MemberData(nameof(Kinds))]
    public async Task A_whole_cluster_asked_to_stop_with_SIGTERM_exits_well_before_the_30_s_shutdown_timeout(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "stop/key", "v")).Stdout);

        await Task.WhenAll(cluster.Members.Select(member => member.TerminateAsync()));
        // Each member holds the others' peer streams open; they must end with the member, not at Kestrel's 30 s timeout.
        var exited = await Task.WhenAll(cluster.Members.Select(member => member.WaitForExitAsync(TimeSpan.FromSeconds(25))));
        Assert.All(exited, Assert.True);
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_put_on_one_member_is_read_from_each_and_status_shows_one_leader(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();

        Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "cluster/key", "value-1")).Stdout);
        foreach (var member in cluster.Members)
            Assert.Equal("value-1\n", (await MustAsync(member.Endpoint, "get", "cluster/key", "--print-value-only")).Stdout);

        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        Assert.Single(statuses, status => status.MemberId == status.Leader);
        Assert.Single(statuses.Select(status => status.ClusterId).Distinct());
        Assert.Single(statuses.Select(status => status.RaftTerm).Distinct());
        Assert.Equal(3, statuses.Select(status => status.MemberId).Distinct().Count());

        var members = await MemberListAsync(cluster.Endpoints);
        Assert.Equal(["infra1", "infra2", "infra3"], members.Select(member => member.Name).Order());
        foreach (var member in cluster.Members)
        {
            var listed = Assert.Single(members, listed => listed.Name == member.Name);
            Assert.Equal([member.PeerUrl], listed.PeerUrls);
            Assert.Equal([member.Url], listed.ClientUrls);
            Assert.False(listed.IsLearner);
            Assert.Contains(statuses, status => status.MemberId == listed.Id);
        }
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_kill_9_of_the_leader_elects_a_new_one_loses_no_acknowledged_write_and_the_member_catches_up(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        var before = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        var oldLeaderId = before[0].Leader;
        var leader = cluster.MemberWithId(oldLeaderId, before);
        var survivors = cluster.Members.Where(member => member != leader).ToList();

        // 16 writers through the two followers (which forward to the leader), as CrashTests does on one member.
        var acknowledged = new ConcurrentDictionary<string, string>();
        var clients = survivors.Select(member => new EtcdClient(member.Url)).ToList();
        TimeSpan elected;
        int acknowledgedAtKill;
        IDictionary<string, string> stored;
        using var stop = new CancellationTokenSource();
        var writers = Array.Empty<Task>();
        try
        {
            writers = Enumerable.Range(0, 16).Select(writer => Task.Run(async () =>
            {
                var client = clients[writer % clients.Count];
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var key = $"kill/{writer}/{i:D6}";
                    try { await client.PutAsync(key, $"value-{writer}-{i}", deadline: DateTime.UtcNow.AddSeconds(10)); }
                    catch (Exception) { await Task.Delay(50); continue; } // failed or unknown outcome: not acknowledged
                    acknowledged[key] = $"value-{writer}-{i}";
                }
            })).ToArray();
            await WaitUntilAsync(() => acknowledged.Count >= 300, TimeSpan.FromSeconds(30), () => $"only {acknowledged.Count} writes acknowledged before the kill");

            var killed = Stopwatch.StartNew();
            await cluster.KillAsync(leader);
            acknowledgedAtKill = acknowledged.Count;
            var after = await ClusterProcess.WaitForOneLeaderAsync(survivors, LeaderDeadline);
            elected = killed.Elapsed;
            Assert.NotEqual(oldLeaderId, after[0].Leader);

            // The stream goes on through the survivors.
            await WaitUntilAsync(() => acknowledged.Count >= acknowledgedAtKill + 300, TimeSpan.FromSeconds(30),
                () => $"only {acknowledged.Count - acknowledgedAtKill} writes acknowledged after the kill");
            stop.Cancel();
            await Task.WhenAll(writers);
            log.WriteLine($"{kind}: new leader seen {elected.TotalMilliseconds:F0} ms after kill -9; {acknowledgedAtKill} writes acknowledged before, {acknowledged.Count} in all");

            Assert.Equal("OK\n", (await RetryAsync(ClusterProcess.EndpointsOf(survivors), TimeSpan.FromSeconds(30), "put", "kill/last", "after-the-kill")).Stdout);
            stored = await clients[0].GetRangeValAsync("kill/");
        }
        finally
        {
            stop.Cancel(); // the writers end even when an assertion above failed
            await Task.WhenAll(writers);
            foreach (var client in clients) client.Dispose();
        }
        var lost = acknowledged.Where(pair => !stored.TryGetValue(pair.Key, out var value) || value != pair.Value).Select(pair => pair.Key).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged writes lost, e.g. {string.Join(", ", lost.Take(5))}");

        await cluster.RestartAsync(leader);
        await WaitForSerializableAsync(leader, "kill/last", "after-the-kill");
        // Everything read through the survivors (kill/last included) is on the restarted member too.
        var caughtUp = await SerializableCountAsync(leader, "kill/");
        Assert.True(caughtUp >= stored.Count, $"{leader.Name} serves {caughtUp} kill/ keys, the survivors {stored.Count}");
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_member_stopped_during_20000_writes_catches_up_after_restart(string kind)
    {
        const int Writes = 20_000;
        await using var cluster = ClusterProcess.Create(kind, snapshotCount: 1000);
        await cluster.StartAsync();
        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        var leader = cluster.MemberWithId(statuses[0].Leader, statuses);
        var stopped = cluster.Members.First(member => member != leader);
        await cluster.KillAsync(stopped);

        var watch = Stopwatch.StartNew();
        using (var client = new EtcdClient(leader.Url))
        {
            var next = -1;
            var retried = 0;
            var until = DateTime.UtcNow.AddSeconds(60);
            // Two members of three must both fsync every write; on a loaded machine etcd itself answers the odd
            // "etcdserver: request timed out" (or "leader changed"): such a write is retried (a put is idempotent here).
            async Task PutAsync(string key, string value)
            {
                while (true)
                {
                    try { await client.PutAsync(key, value, deadline: DateTime.UtcNow.AddSeconds(20)); return; }
                    catch (Grpc.Core.RpcException) when (DateTime.UtcNow < until) { Interlocked.Increment(ref retried); await Task.Delay(100); }
                }
            }
            await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < Writes; i = Interlocked.Increment(ref next))
                    await PutAsync($"snap/{i:D6}", $"value-{i}");
            })));
            await PutAsync("snap/~last", "the-last-write");
            log.WriteLine($"{kind}: {Writes + 1} writes in {watch.ElapsedMilliseconds} ms with {stopped.Name} down ({retried} retried)");
        }

        await cluster.RestartAsync(stopped);
        await WaitForSerializableAsync(stopped, "snap/~last", "the-last-write");
        Assert.Equal(Writes + 1, await SerializableCountAsync(stopped, "snap/"));
        log.WriteLine($"{kind}: {stopped.Name} caught up {watch.ElapsedMilliseconds} ms after the writes began");
        // Not asserted (the log text is the server's own); etcd logs "applied incoming snapshot at index N".
        foreach (var line in stopped.Output.Split('\n').Where(line => line.Contains("snapshot", StringComparison.OrdinalIgnoreCase) && line.Contains("incoming")))
            log.WriteLine(line);
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_membership_add_learner_promote_remove_and_move_leader(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        var founders = cluster.Members.ToList();

        var printedCluster = "";
        var joining = cluster.NewJoiningMember("infra4", () => printedCluster);
        // etcd refuses reconfiguration until every member has been connected for a while: "etcdserver: unhealthy cluster".
        var added = await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "member", "add", "infra4", "--learner", $"--peer-urls={joining.PeerUrl}");
        var addedLine = AddedLine().Match(added.Stdout);
        Assert.True(addedLine.Success, added.ToString());
        var joiningId = addedLine.Groups[1].Value;
        printedCluster = InitialClusterLine().Match(added.Stdout).Groups[1].Value;
        Assert.Contains($"infra4={joining.PeerUrl}", printedCluster);
        Assert.Contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\"", added.Stdout);
        Assert.Contains("ETCD_NAME=\"infra4\"", added.Stdout);

        await joining.StartAsync();
        await WaitUntilAsync(async () => (await MemberListAsync(cluster.Endpoints)).Any(member => member is { Name: "infra4", IsLearner: true }),
            LeaderDeadline, () => "infra4 is not listed as a started learner");

        // A learner is promoted only once it is in sync: "etcdserver: can only promote a learner member which is in sync with leader".
        var promoted = await RetryAsync(ClusterProcess.EndpointsOf(founders), TimeSpan.FromSeconds(30), "member", "promote", joiningId);
        Assert.Matches($"^Member +{joiningId} promoted in cluster +[0-9a-f]+\n$", promoted.Stdout);
        Assert.Contains(await MemberListAsync(cluster.Endpoints), member => member is { Name: "infra4", IsLearner: false });

        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        var removed = founders.First(member => statuses.Single(status => status.Endpoint == member.Endpoint).MemberId != statuses[0].Leader);
        var removedId = statuses.Single(status => status.Endpoint == removed.Endpoint).MemberId.ToString("x");
        var remaining = cluster.Members.Where(member => member != removed).ToList();
        var removing = await RetryAsync(ClusterProcess.EndpointsOf(remaining), TimeSpan.FromSeconds(30), "member", "remove", removedId);
        Assert.Matches($"^Member +{removedId} removed from cluster +[0-9a-f]+\n$", removing.Stdout);
        Assert.True(await removed.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"{removed.Name} still runs after its removal");
        Assert.Equal(remaining.Select(member => member.Name).Order(), (await MemberListAsync(ClusterProcess.EndpointsOf(remaining))).Select(member => member.Name).Order());

        // move-leader, sent to the leader, to the newest member (or another one if it leads already).
        statuses = await ClusterProcess.WaitForOneLeaderAsync(remaining, LeaderDeadline);
        var leaderId = statuses[0].Leader;
        var leader = cluster.MemberWithId(leaderId, statuses);
        var target = joining != leader ? joining : remaining.First(member => member != leader);
        var targetId = statuses.Single(status => status.Endpoint == target.Endpoint).MemberId;
        var moved = await MustAsync(leader.Endpoint, "move-leader", targetId.ToString("x"));
        Assert.Equal($"Leadership transferred from {leaderId:x} to {targetId:x}\n", moved.Stdout);
        await WaitUntilAsync(async () => (await ClusterProcess.WaitForOneLeaderAsync(remaining, LeaderDeadline))[0].Leader == targetId,
            LeaderDeadline, () => $"{target.Name} did not become the leader");
        Assert.Equal("OK\n", (await RetryAsync(ClusterProcess.EndpointsOf(remaining), TimeSpan.FromSeconds(30), "put", "membership/after", "done")).Stdout);
    }

    /// <summary>Only the leader knows whether a learner's log is in sync: a promotion sent to a follower is forwarded
    /// to it and refused there for a learner that never started, as in etcd.</summary>
    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_member_update_moves_a_member_to_new_peer_urls_and_it_replicates_there(string kind)
    {
        // etcd's runbook: `member update ID --peer-urls=NEW` while the member runs, then restart it listening on NEW.
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        await MustAsync(cluster.Endpoints, "put", "moved/before", "1");
        var moving = cluster[2];
        var id = (await MemberListAsync(cluster.Endpoints)).Single(member => member.Name == moving.Name).Id;
        var newPort = ServerProcess.AllocatePort();
        var newUrl = $"http://127.0.0.1:{newPort}";
        var updated = await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "member", "update", id.ToString("x"), $"--peer-urls={newUrl}");
        Assert.Contains($"Member {id,16:x} updated in cluster", updated.Stdout, StringComparison.Ordinal);
        foreach (var member in cluster.Members) // each member answers from what it has applied: a follower may be a moment behind
            await WaitUntilAsync(async () => (await MemberListAsync(member.Endpoint)).Single(listed => listed.Id == id).PeerUrls.SequenceEqual([newUrl]),
                TimeSpan.FromSeconds(10), () => $"{member.Name} never listed {newUrl}");

        await cluster.KillAsync(moving);
        moving.PeerPort = newPort;
        await cluster.RestartAsync(moving);
        // Written through the others after the move: the moved member can only have it from the leader at its new URL.
        await RetryAsync(ClusterProcess.EndpointsOf(cluster.Members.Take(2)), TimeSpan.FromSeconds(30), "put", "moved/after", "2");
        await WaitForSerializableAsync(moving, "moved/before", "1");
        await WaitForSerializableAsync(moving, "moved/after", "2");
        // And its own writes reach the leader (forwarded, or led from there) and every member.
        await RetryAsync(moving.Endpoint, TimeSpan.FromSeconds(30), "put", "moved/from-it", "3");
        foreach (var member in cluster.Members) await WaitForSerializableAsync(member, "moved/from-it", "3");
        Assert.Equal([newUrl], (await MemberListAsync(moving.Endpoint)).Single(listed => listed.Id == id).PeerUrls);
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_promote_sent_to_a_follower_is_judged_by_the_leader(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        var follower = cluster.Members.First(member => statuses.Single(status => status.Endpoint == member.Endpoint).MemberId != statuses[0].Leader);
        var added = await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "member", "add", "infra4", "--learner", "--peer-urls=http://127.0.0.1:1");
        var learnerId = AddedLine().Match(added.Stdout).Groups[1].Value;
        var refused = await Tool.EtcdctlAtAsync(follower.Endpoint, "--command-timeout", "10s", "member", "promote", learnerId);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Error: etcdserver: can only promote a learner member which is in sync with leader", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains(await MemberListAsync(cluster.Endpoints), member => member.IsLearner);
    }

    /// <summary>--strict-reconfig-check is judged on whichever member takes the request, from its own connections
    /// (etcd's isConnectedFullySince and numConnectedSince): with one voter down, a follower refuses to add a voter (the
    /// new cluster of four would have two of its members up) and to remove the reachable leader, as the leader would.</summary>
    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_reconfiguration_sent_to_a_follower_is_refused_there_while_a_voter_is_down(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        ulong IdOf(ServerProcess member) => statuses.Single(status => status.Endpoint == member.Endpoint).MemberId;
        var followers = cluster.Members.Where(member => IdOf(member) != statuses[0].Leader).ToList();
        var (judge, down) = (followers[0], followers[1]);
        // etcd_network_active_peers{Local,Remote} shows what the judge's own transport sees of the other follower.
        await WaitUntilAsync(async () => await ActivePeerAsync(judge, IdOf(judge), IdOf(down)) == 1, CatchUpDeadline,
            () => $"{judge.Name} never saw {down.Name} active");
        await cluster.KillAsync(down);
        await WaitUntilAsync(async () => await ActivePeerAsync(judge, IdOf(judge), IdOf(down)) == 0, CatchUpDeadline,
            () => $"{judge.Name} still sees the killed {down.Name} as active");

        var add = await Tool.EtcdctlAtAsync(judge.Endpoint, "--command-timeout", "10s", "member", "add", "infra4", "--peer-urls=http://127.0.0.1:1");
        Assert.True(add.ExitCode == 1 && add.Stderr.Contains("Error: etcdserver: unhealthy cluster", StringComparison.Ordinal), add.ToString());
        var remove = await Tool.EtcdctlAtAsync(judge.Endpoint, "--command-timeout", "10s", "member", "remove", statuses[0].Leader.ToString("x"));
        Assert.True(remove.ExitCode == 1 && remove.Stderr.Contains("Error: etcdserver: unhealthy cluster", StringComparison.Ordinal), remove.ToString());
        Assert.Equal(3, (await MemberListAsync(judge.Endpoint)).Count);
    }

    /// <summary>The judge's etcd_network_active_peers for one peer, or -1 while it has no such series.</summary>
    private static async Task<double> ActivePeerAsync(ServerProcess member, ulong local, ulong remote)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(member.Url + "/metrics");
        var series = ActivePeersLine().Matches(text).FirstOrDefault(match =>
            match.Groups["labels"].Value.Contains($"Local=\"{local:x}\"", StringComparison.Ordinal)
            && match.Groups["labels"].Value.Contains($"Remote=\"{remote:x}\"", StringComparison.Ordinal));
        return series is null ? -1 : double.Parse(series.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^etcd_network_active_peers\{(?<labels>[^}]*)\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex ActivePeersLine();

    /// <summary>etcd's runbook for growing a single member into a cluster: with --strict-reconfig-check on (the
    /// default), one started member may add a second voter (etcd's special case for it), which then starts with
    /// --initial-cluster-state existing; the two add a third. Every key is then on every member.</summary>
    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_grown_from_one_member_to_three_with_member_add(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind, size: 1);
        await cluster.StartAsync();
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "grow/1", "one")).Stdout);

        foreach (var (name, key) in new[] { ("infra2", "grow/2"), ("infra3", "grow/3") })
        {
            var printedCluster = "";
            var endpoints = cluster.Endpoints; // the members so far
            var joining = cluster.NewJoiningMember(name, () => printedCluster);
            var added = await RetryAsync(endpoints, TimeSpan.FromSeconds(30), "member", "add", name, $"--peer-urls={joining.PeerUrl}");
            Assert.True(AddedLine().IsMatch(added.Stdout), added.ToString());
            printedCluster = InitialClusterLine().Match(added.Stdout).Groups[1].Value;
            await joining.StartAsync();
            await WaitUntilAsync(async () => (await MemberListAsync(cluster.Endpoints)).Any(member => member.Name == name),
                LeaderDeadline, () => $"{name} is not listed as started");
            Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", key, name)).Stdout);
        }

        Assert.Equal(3, (await MemberListAsync(cluster.Endpoints)).Count(member => !member.IsLearner && member.Name.Length > 0));
        foreach (var member in cluster.Members)
        {
            await WaitForSerializableAsync(member, "grow/1", "one");
            await WaitForSerializableAsync(member, "grow/2", "infra2");
            await WaitForSerializableAsync(member, "grow/3", "infra3");
        }
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_minority_partition_refuses_writes_and_linearizable_reads_but_serves_serializable_reads(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind);
        await cluster.StartAsync();
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "partition/key", "before");
        var lone = cluster[0];
        foreach (var member in cluster.Members) await WaitForSerializableAsync(member, "partition/key", "before");

        foreach (var member in cluster.Members.Skip(1)) await cluster.PauseAsync(member);
        try
        {
            var put = await Tool.EtcdctlAtAsync(lone.Endpoint, "--command-timeout", "5s", "put", "partition/key", "during");
            AssertNoQuorum(put);
            var linearizable = await Tool.EtcdctlAtAsync(lone.Endpoint, "--command-timeout", "5s", "get", "partition/key", "--print-value-only");
            AssertNoQuorum(linearizable);
            var serializable = await MustAsync(lone.Endpoint, "--command-timeout", "5s", "get", "partition/key", "--print-value-only", "--consistency=s");
            Assert.Equal("before\n", serializable.Stdout);
            log.WriteLine($"{kind}: put → {LastError(put)}; linearizable get → {LastError(linearizable)}");
        }
        finally
        {
            foreach (var member in cluster.Members.Skip(1)) await cluster.ResumeAsync(member);
        }

        // Healed: one leader again, writes through the lone member commit, every member reads them.
        await WaitUntilAsync(async () => (await Tool.EtcdctlAtAsync(lone.Endpoint, "--command-timeout", "5s", "put", "partition/key", "after")).ExitCode == 0,
            TimeSpan.FromSeconds(30), () => "a put through the formerly lone member never succeeded after the heal");
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);
        // Linearizable reads on every member; resumed members may still start an election or two (etcd 3.4 runs
        // without PreVote), so each read is polled.
        foreach (var member in cluster.Members)
            await WaitUntilAsync(async () =>
            {
                var get = await Tool.EtcdctlAtAsync(member.Endpoint, "--command-timeout", "5s", "get", "partition/key", "--print-value-only");
                return get.ExitCode == 0 && get.Stdout == "after\n";
            }, TimeSpan.FromSeconds(30), () => $"{member.Name} never answered a linearizable get of partition/key=after");
    }

    private static void AssertNoQuorum(Tool.Result result)
    {
        Assert.True(result.ExitCode != 0, $"expected a failure without a quorum, got {result}");
        var error = LastError(result);
        Assert.True(error.StartsWith("Error: ", StringComparison.Ordinal) && NoQuorumErrors.Any(error.EndsWith),
            $"unexpected error without a quorum: {result}");
    }

    private static string LastError(Tool.Result result) =>
        result.Stderr.Split('\n').LastOrDefault(line => line.StartsWith("Error", StringComparison.Ordinal)) ?? "";

    private static async Task<Tool.Result> MustAsync(string endpoints, params string[] arguments)
    {
        var result = await Tool.EtcdctlAtAsync(endpoints, arguments);
        Assert.True(result.ExitCode == 0, $"etcdctl --endpoints {endpoints} {string.Join(' ', arguments)}: {result}");
        return result;
    }

    /// <summary>Runs an etcdctl command until it succeeds: reconfiguration is refused while etcd thinks the cluster
    /// unhealthy, and on a loaded machine etcd answers the odd retriable "etcdserver: request timed out" / "leader changed".</summary>
    private static async Task<Tool.Result> RetryAsync(string endpoints, TimeSpan deadline, params string[] arguments)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var result = await Tool.EtcdctlAtAsync(endpoints, ["--command-timeout", "5s", .. arguments]);
            if (result.ExitCode == 0) return result;
            if (DateTime.UtcNow > until) throw new TimeoutException($"etcdctl {string.Join(' ', arguments)} kept failing: {result}");
            await Task.Delay(500);
        }
    }

    private static async Task WaitForSerializableAsync(ServerProcess member, string key, string value) =>
        await WaitUntilAsync(async () =>
        {
            var result = await Tool.EtcdctlAtAsync(member.Endpoint, "--command-timeout", "5s", "get", key, "--print-value-only", "--consistency=s");
            return result.ExitCode == 0 && result.Stdout == value + "\n";
        }, CatchUpDeadline, () => $"{member.Name} never served {key}={value} (serializable)");

    private static async Task<long> SerializableCountAsync(ServerProcess member, string prefix)
    {
        // etcdctl 3.4 has no --count-only; the JSON answer's "count" is the number of keys in the range whatever the limit.
        var result = await MustAsync(member.Endpoint, "get", prefix, "--prefix", "--limit=1", "--consistency=s", "-w", "json");
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.TryGetProperty("count", out var count) ? count.GetInt64() : 0;
    }

    private sealed record Member(ulong Id, string Name, string[] PeerUrls, string[] ClientUrls, bool IsLearner);

    private static async Task<List<Member>> MemberListAsync(string endpoints)
    {
        var result = await MustAsync(endpoints, "member", "list", "-w", "json");
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.GetProperty("members").EnumerateArray().Select(member => new Member(
            member.GetProperty("ID").GetUInt64(),
            member.TryGetProperty("name", out var name) ? name.GetString()! : "",
            Strings(member, "peerURLs"), Strings(member, "clientURLs"),
            member.TryGetProperty("isLearner", out var learner) && learner.GetBoolean())).ToList();

        static string[] Strings(JsonElement member, string property) =>
            member.TryGetProperty(property, out var array) ? array.EnumerateArray().Select(url => url.GetString()!).ToArray() : [];
    }

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan deadline, Func<string> failure) =>
        WaitUntilAsync(() => Task.FromResult(condition()), deadline, failure);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan deadline, Func<string> failure)
    {
        var until = DateTime.UtcNow + deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException(failure());
            await Task.Delay(200);
        }
    }

    /// <summary>etcdctl prints IDs with %16x: an ID below 2^60 is padded with spaces ("Member  201aa925af026a8 added …").</summary>
    [GeneratedRegex(@"^Member +([0-9a-f]+) added to cluster +[0-9a-f]+$", RegexOptions.Multiline)]
    private static partial Regex AddedLine();

    [GeneratedRegex("^ETCD_INITIAL_CLUSTER=\"([^\"]+)\"$", RegexOptions.Multiline)]
    private static partial Regex InitialClusterLine();
}
