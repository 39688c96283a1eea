using Etcdserverpb;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Fuzz;

namespace HttpKv.Robustness.Tests;

/// <summary>Random and mutated HTTP requests against a live member: never a 5xx, never a crash, and the store the
/// member had is the store it has after a kill -9 and restart (HashKV equal).</summary>
public sealed class HttpFuzzTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Bad_http_input_gets_a_client_error_and_loses_nothing(int seed)
    {
        var root = Directory.CreateTempSubdirectory("httpkv-fuzz-").FullName;
        try
        {
            await using var cluster = new TestCluster(1, root);
            var member = cluster.Members[0];
            await member.StartAsync();
            var cases = await new HttpFuzzer(member.ClientUrl, seed).RunAsync(600);

            var failures = cases.Where(c => c.Status >= 500 || c.Status < 0 && !member.IsRunning).ToList();
            Assert.True(failures.Count == 0, $"seed {seed}: {failures.Count} bad answers, e.g.\n{string.Join('\n', failures.Take(5))}");
            Assert.True(member.IsRunning, $"the member died:\n{member.Output}");
            Assert.True(cases.Count(c => c.Status is >= 200 and < 500) > 300, "too few requests were answered at all");

            using var channel = GrpcChannel.ForAddress(member.ClientUrl);
            var maintenance = new Maintenance.MaintenanceClient(channel);
            var before = await maintenance.HashKVAsync(new HashKVRequest());
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
