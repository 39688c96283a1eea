using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;

namespace HttpKv.Robustness.Tests;

/// <summary>A member that crashes at any point of its write path keeps every write it acknowledged (the durability
/// contract), shown on a real process with each failpoint.</summary>
public sealed class FailpointCrashTests
{
    [Theory]
    [InlineData("walBeforeWrite")]
    [InlineData("walBeforeSync")]
    [InlineData("walAfterSync")]
    [InlineData("raftBeforeApply")]
    [InlineData("backendBeforeCommit")]
    [InlineData("backendAfterCommit")]
    public async Task A_crash_at_the_failpoint_loses_no_acknowledged_write(string failpoint)
    {
        var root = Directory.CreateTempSubdirectory("httpkv-failpoint-").FullName;
        try
        {
            await using var cluster = new TestCluster(1, root);
            var member = cluster.Members[0];
            await member.StartAsync();
            await member.KillAsync();
            var crashed = member.RunUntilFailpointAsync($"{failpoint}=panic@20", TimeSpan.FromSeconds(90));

            var acknowledged = new List<string>();
            using (var channel = GrpcChannel.ForAddress(member.ClientUrl))
            {
                var kv = new KV.KVClient(channel);
                for (var i = 0; i < 200 && !crashed.IsCompleted; i++)
                {
                    try
                    {
                        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"k{i}"), Value = ByteString.CopyFromUtf8("v") },
                            deadline: DateTime.UtcNow.AddSeconds(10));
                        acknowledged.Add($"k{i}");
                    }
                    catch (RpcException)
                    {
                        await Task.Delay(100); // not up yet, or gone: only acknowledged writes count
                    }
                }
            }
            Assert.True(await crashed, $"the member never reached {failpoint}:\n{member.Output}");
            Assert.Contains($"failpoint {failpoint}", member.Output);

            await member.StartAsync();
            using var again = GrpcChannel.ForAddress(member.ClientUrl);
            var all = await new KV.KVClient(again).RangeAsync(new RangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) });
            var present = all.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToHashSet();
            Assert.DoesNotContain(acknowledged, key => !present.Contains(key));
            Assert.NotEmpty(acknowledged);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
