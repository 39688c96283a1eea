using Etcdserverpb;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Fuzz;

namespace HttpKv.Robustness.Tests;

/// <summary>Malformed gRPC calls against a live member: each ends with a status, the member keeps serving, and its
/// store is what it was (HashKV equal across a kill -9 and restart).</summary>
public sealed class GrpcFuzzTests
{
    [Fact]
    public async Task Malformed_grpc_frames_get_a_status_and_lose_nothing()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-grpcfuzz-").FullName;
        try
        {
            await using var cluster = new TestCluster(1, root);
            var member = cluster.Members[0];
            await member.StartAsync();
            var outcomes = await new GrpcFuzzer(member.ClientUrl, seed: 1).RunAsync(400);

            Assert.True(member.IsRunning, $"the member died:\n{member.Output}");
            Assert.True(outcomes.Count(o => o.Contains("grpc-status", StringComparison.Ordinal)) > 200,
                "too few calls ended with a gRPC status:\n" + string.Join('\n', outcomes.Take(20)));
            Assert.DoesNotContain(outcomes, o => o.EndsWith("http 500", StringComparison.Ordinal));

            using var channel = GrpcChannel.ForAddress(member.ClientUrl);
            var before = await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest());
            await member.KillAsync();
            await member.StartAsync();
            using var again = GrpcChannel.ForAddress(member.ClientUrl);
            var after = await new Maintenance.MaintenanceClient(again).HashKVAsync(new HashKVRequest { Revision = before.Header.Revision });
            Assert.Equal(before.Hash, after.Hash);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
