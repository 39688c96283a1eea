using Etcdserverpb;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>The Cluster and Maintenance routes on a one-member cluster, over JSON and gRPC.</summary>
public sealed class ClusterGatewayTests : MemberTest
{

    [Fact]
    public async Task Member_list_shows_the_published_member()
    {
        var list = await Client.PostOkAsync("/v3/cluster/member/list", new { });
        var member = Assert.Single(list["members"]!.AsArray())!;
        Assert.Equal("default", (string)member["name"]!);
        Assert.Equal("8e9e05c52164694d", ulong.Parse((string)member["ID"]!).ToString("x"));
        Assert.Equal("http://localhost:2380", (string)member["peerURLs"]![0]!);
        Assert.Null(member["isLearner"]);
    }

    [Fact]
    public async Task Status_names_this_member_the_leader_with_etcds_term_and_indexes()
    {
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("a"), value = B64("1") });
        var status = await Client.PostOkAsync("/v3/maintenance/status", new { });
        Assert.Equal((string)status["header"]!["member_id"]!, (string)status["leader"]!);
        Assert.Equal("2", (string)status["raftTerm"]!);
        Assert.Equal((string)status["raftIndex"]!, (string)status["raftAppliedIndex"]!);
        Assert.StartsWith("3.5.", (string)status["version"]!);
        Assert.True(long.Parse((string)status["dbSize"]!) > 0);
    }

    [Fact]
    public async Task Strict_reconfig_check_lets_one_started_member_add_a_second_voter_but_not_a_third()
    {
        // etcd's special case for growing a single member: one started member may add a second voter.
        var added = await Client.PostOkAsync("/v3/cluster/member/add", new { peerURLs = new[] { "http://127.0.0.1:1" } });
        Assert.Null(added["member"]!["isLearner"]);
        Assert.Equal(2, added["members"]!.AsArray().Count);
        // Now one of two voters has started: a third would leave one started of three.
        var (status, error) = await Client.PostAsync("/v3/cluster/member/add", """{"peerURLs":["http://127.0.0.1:2"]}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: re-configuration failed due to not enough started members", (string)error["error"]!);
    }

    [Fact]
    public async Task A_learner_joins_and_leaves_without_the_quorum_checks()
    {
        var added = await Client.PostOkAsync("/v3/cluster/member/add", new { peerURLs = new[] { "http://127.0.0.1:1" }, isLearner = true });
        Assert.True((bool)added["member"]!["isLearner"]!);
        Assert.Equal(2, added["members"]!.AsArray().Count);

        var id = (string)added["member"]!["ID"]!;
        var removed = await Client.PostOkAsync("/v3/cluster/member/remove", new { ID = id });
        Assert.Single(removed["members"]!.AsArray());
    }

    [Fact]
    public async Task Membership_errors_are_etcds()
    {
        var (status, error) = await Client.PostAsync("/v3/cluster/member/remove", """{"ID":"42"}""");
        Assert.Equal(404, status);
        Assert.Equal("etcdserver: member not found", (string)error["error"]!);
        (status, error) = await Client.PostAsync("/v3/cluster/member/add", """{"peerURLs":["http://localhost:2380"],"isLearner":true}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: Peer URLs already exists", (string)error["error"]!);
        (status, error) = await Client.PostAsync("/v3/maintenance/transfer-leadership", """{"targetID":"42"}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: bad leader transferee", (string)error["error"]!);
    }

    [Fact]
    public async Task Status_over_grpc()
    {
        using var channel = Factory.CreateGrpcChannel();
        var status = await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest());
        Assert.Equal(status.Header.MemberId, status.Leader);
        var list = await new Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest { Linearizable = true });
        Assert.Single(list.Members);
    }
}
