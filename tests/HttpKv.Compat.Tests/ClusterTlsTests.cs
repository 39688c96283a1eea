using HttpKv.Tests.Shared;

namespace HttpKv.Compat.Tests;

/// <summary>Peer TLS (issue 6, transport): members on https peer URLs with --peer-client-cert-auth form a cluster and
/// replicate; a member whose peer certificate comes from another CA is refused by the others and never joins.
/// etcd 3.4 facts: a joining member that cannot fetch the cluster from its peers exits by itself; `member list`
/// shows a member that never started without a name.</summary>
public sealed partial class ClusterTests
{
    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_with_peer_mTLS_forms_and_replicates_and_a_member_with_an_untrusted_peer_certificate_cannot_join(string kind)
    {
        using var certificates = new TestCertificates();
        IEnumerable<string> PeerTls(string identity) =>
        [
            "--peer-cert-file", certificates.Cert(identity), "--peer-key-file", certificates.Key(identity),
            "--peer-trusted-ca-file", certificates.CaFile, "--peer-client-cert-auth",
        ];
        await using var cluster = ClusterProcess.Create(kind, extraFlags: _ => PeerTls("peer"), peerScheme: "https");
        await cluster.StartAsync();

        Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "mtls/key", "replicated")).Stdout);
        foreach (var member in cluster.Members) await WaitForSerializableAsync(member, "mtls/key", "replicated");
        var founders = await MemberListAsync(cluster.Endpoints);
        Assert.All(founders, member => Assert.StartsWith("https://127.0.0.1:", Assert.Single(member.PeerUrls), StringComparison.Ordinal));
        await ClusterProcess.WaitForOneLeaderAsync(cluster.Members, LeaderDeadline);

        var printedCluster = "";
        var intruder = cluster.NewJoiningMember("infra4", () => printedCluster, _ => PeerTls("other-peer"));
        var added = await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "member", "add", "infra4", "--learner", $"--peer-urls={intruder.PeerUrl}");
        printedCluster = InitialClusterLine().Match(added.Stdout).Groups[1].Value;
        Assert.Contains($"infra4={intruder.PeerUrl}", printedCluster);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(intruder.StartAsync);
        log.WriteLine(refused.Message.Length > 4000 ? refused.Message[^4000..] : refused.Message);

        var members = await MemberListAsync(ClusterProcess.EndpointsOf(cluster.Members.Take(3)));
        Assert.Equal(["", "infra1", "infra2", "infra3"], members.Select(member => member.Name).Order());
        Assert.Empty(Assert.Single(members, member => member.Name == "").ClientUrls); // added, never started
        Assert.Equal("OK\n", (await MustAsync(ClusterProcess.EndpointsOf(cluster.Members.Take(3)), "put", "mtls/key", "still-serving")).Stdout);
    }

    [Theory, MemberData(nameof(Kinds))]
    public async Task Cluster_with_peer_auto_TLS_forms_and_replicates_on_self_signed_certificates(string kind)
    {
        await using var cluster = ClusterProcess.Create(kind, extraFlags: _ => ["--peer-auto-tls"], peerScheme: "https");
        await cluster.StartAsync();

        Assert.Equal("OK\n", (await RetryAsync(cluster.Endpoints, TimeSpan.FromSeconds(30), "put", "auto/key", "replicated")).Stdout);
        foreach (var member in cluster.Members)
        {
            await WaitForSerializableAsync(member, "auto/key", "replicated");
            Assert.True(File.Exists(Path.Combine(member.DataDir, "fixtures", "peer", "cert.pem")), $"{member.Name} has no fixtures/peer/cert.pem");
        }
        Assert.All(await MemberListAsync(cluster.Endpoints), member => Assert.StartsWith("https://", Assert.Single(member.PeerUrls), StringComparison.Ordinal));
    }
}
