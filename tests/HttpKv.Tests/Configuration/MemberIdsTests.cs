using HttpKv.Configuration;
using HttpKv.Server;

namespace HttpKv.Tests.Configuration;

/// <summary>
/// Expected IDs were read from a real etcd 3.4.23 (Debian etcd-server), each started in an empty
/// temp data dir and queried with `ETCDCTL_API=3 etcdctl endpoint status -w json`
/// (decimal member_id / cluster_id converted to hex).
/// </summary>
public sealed class MemberIdsTests
{
    [Fact]
    public void Default_etcd_member_and_cluster_ids()
    {
        // `etcd` with no flags → member_id 10276657743932975437, cluster_id 14841639068965178418.
        var memberId = MemberIds.ComputeMemberId(["http://localhost:2380"], "etcd-cluster");

        Assert.Equal("8e9e05c52164694d", MemberIds.ToHex(memberId));
        Assert.Equal("cdf818194e3a8c32", MemberIds.ToHex(MemberIds.ComputeClusterId([memberId])));
    }

    [Fact]
    public void Non_default_token_and_peer_url()
    {
        // `etcd --initial-cluster-token tok --initial-advertise-peer-urls http://127.0.0.1:12380
        //   --listen-peer-urls http://127.0.0.1:12380 --initial-cluster default=http://127.0.0.1:12380
        //   --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379`
        // → member_id 15429915573580438332, cluster_id 7374361507836364162.
        var members = MemberIds.ParseInitialCluster("default=http://127.0.0.1:12380");

        Assert.Equal("d622127685879b3c", MemberIds.ToHex(MemberIds.ComputeMemberId(members[0].PeerUrls, "tok")));
        Assert.Equal("6656feb867e68582", MemberIds.ToHex(MemberIds.ComputeClusterId(members, "tok")));
    }

    [Fact]
    public void Peer_urls_are_sorted_before_hashing()
    {
        var forwards = MemberIds.ComputeMemberId(["http://a:2380", "http://b:2380"], "t");
        var backwards = MemberIds.ComputeMemberId(["http://b:2380", "http://a:2380"], "t");

        Assert.Equal(forwards, backwards);
    }

    [Fact]
    public void Cluster_id_does_not_depend_on_member_order()
    {
        Assert.Equal(MemberIds.ComputeClusterId([1UL, 2UL, 3UL]), MemberIds.ComputeClusterId([3UL, 1UL, 2UL]));
    }

    [Fact]
    public void Initial_cluster_parses_names_and_groups_repeated_names()
    {
        var members = MemberIds.ParseInitialCluster("n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380,n1=http://10.0.1.1:2380");

        Assert.Equal(2, members.Count);
        Assert.Equal("n1", members[0].Name);
        Assert.Equal(["http://10.0.0.1:2380", "http://10.0.1.1:2380"], members[0].PeerUrls);
        Assert.Equal("n2", members[1].Name);
    }

    [Theory]
    [InlineData("n1")]
    [InlineData("=http://x:2380")]
    [InlineData("n1=")]
    public void Malformed_initial_cluster_is_rejected(string text)
    {
        Assert.Throws<FormatException>(() => MemberIds.ParseInitialCluster(text));
    }
}
