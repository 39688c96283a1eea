using System.Text.RegularExpressions;

namespace HttpKv.Compat.Tests;

/// <summary>The families only a cluster shows (peer traffic, peer connections, learner promotions), scraped from the
/// leader of a 3-member etcd and a 3-member HttpKv after the same calls, compared as the one-member families are
/// (<see cref="MetricsCompatTests.AssertServedAsEtcd"/>): the same names, types and label names.</summary>
[Collection("cluster")]
public sealed partial class ClusterMetricsTests
{
    [Fact]
    public async Task Every_family_a_cluster_of_etcd_exports_is_served_or_explained()
    {
        var scraped = new Dictionary<string, List<MetricsCompatTests.Sample>>();
        foreach (var kind in new[] { "etcd", "httpkv" })
        {
            await using var cluster = ClusterProcess.Create(kind);
            await cluster.StartAsync();
            var statuses = await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, TimeSpan.FromSeconds(15));
            var leader = cluster.MemberWithId(statuses[0].Leader, statuses);
            for (var i = 0; i < 20; i++) Must(await Tool.EtcdctlAtAsync(leader.Endpoint, "put", $"peers/{i}", "v"));
            // A learner that never starts: its promotion is refused on the leader (etcd_server_learner_promote_failures).
            var added = await AddLearnerAsync(leader);
            var learner = AddedLine().Match(added.Stdout).Groups[1].Value;
            var promote = await Tool.EtcdctlAtAsync(leader.Endpoint, "member", "promote", learner);
            Assert.True(promote.ExitCode == 1, promote.ToString());
            scraped[kind] = await MetricsCompatTests.ScrapeAsync(leader.Url);
        }
        MetricsCompatTests.AssertServedAsEtcd(scraped["etcd"], scraped["httpkv"]);
        var ours = scraped["httpkv"];
        Assert.Contains(ours, sample => sample.Name == "etcd_network_peer_sent_bytes_total" && sample.Value > 0);
        Assert.Contains(ours, sample => sample.Name == "etcd_network_peer_received_bytes_total" && sample.Value > 0);
        Assert.Equal(2, ours.Where(sample => sample.Name == "etcd_network_active_peers").Sum(sample => sample.Value));
        Assert.Contains(ours, sample => sample.Name == "etcd_server_learner_promote_failures_total" && sample.Value == 1
            && sample.Labels["Reason"] == "etcdserver: can only promote a learner member which is in sync with leader");
    }

    /// <summary>Adds a learner that never starts, retried while the leader has not been connected to every member
    /// for etcd's health interval ("etcdserver: unhealthy cluster").</summary>
    private static async Task<Tool.Result> AddLearnerAsync(ServerProcess leader)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var added = await Tool.EtcdctlAtAsync(leader.Endpoint, "member", "add", "infra4", "--learner", "--peer-urls=http://127.0.0.1:1");
            if (added.ExitCode == 0 || DateTime.UtcNow > until) return Must(added);
            await Task.Delay(500);
        }
    }

    private static Tool.Result Must(Tool.Result result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    [GeneratedRegex(@"Member +([0-9a-f]+) added")]
    private static partial Regex AddedLine();
}
