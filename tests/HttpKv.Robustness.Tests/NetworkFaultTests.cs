using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;

namespace HttpKv.Robustness.Tests;

/// <summary>The peer proxies really cut members apart: a partitioned leader loses its followers to a new leader,
/// and after healing the old one rejoins under it.</summary>
public sealed class NetworkFaultTests
{
    private static async Task<StatusResponse?> StatusAsync(MemberProcess member)
    {
        try
        {
            using var channel = GrpcChannel.ForAddress(member.ClientUrl);
            return await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
        }
        catch (RpcException)
        {
            return null;
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(200);
        }
        throw new TimeoutException(what);
    }

    [Fact]
    public async Task A_partitioned_leader_is_replaced_and_rejoins_after_healing()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-partition-").FullName;
        try
        {
            await using var cluster = new TestCluster(3, root);
            await cluster.StartAsync();
            var leaderId = (await EventuallyAsync(async () => await StatusAsync(cluster.Members[0]) is { Leader: > 0 } s ? s : null, "a leader")).Leader;
            var statuses = await Task.WhenAll(cluster.Members.Select(StatusAsync));
            var leader = cluster.Members[Array.FindIndex(statuses, s => s?.Header.MemberId == leaderId)];
            var followers = cluster.Members.Where(member => member != leader).ToList();

            foreach (var follower in followers)
            {
                cluster.Network.Cut(leader.Name, follower.Name);
                cluster.Network.Cut(follower.Name, leader.Name);
            }
            var newLeader = await EventuallyAsync(async () =>
                await StatusAsync(followers[0]) is { Leader: > 0 } s && s.Leader != leaderId ? s : null, "the followers electing a new leader");

            cluster.Network.Heal();
            await EventuallyAsync(async () =>
                await StatusAsync(leader) is { } s && s.Leader == newLeader.Leader && s.RaftTerm >= newLeader.RaftTerm ? s : null,
                "the old leader following the new one");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
