using System.Net;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Faults;
using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness.Tests;

/// <summary>The membership and snapshot faults of the robustness runs, one at a time on a real 3-member cluster whose
/// leader snapshots every 200 entries and keeps 100 behind (so a member that was away, or new, catches up by
/// snapshot): a learner joins, serves only what etcd's learners serve and is promoted; a member replaced by a new,
/// empty one catches up; a catch-up by snapshot interrupted three ways recovers. Each ends with every member's
/// HashKV (a learner's whole keyspace) equal.</summary>
public sealed class MembershipFaultTests
{
    private const int SnapshotCount = 200;
    private const int CatchUpEntries = 100;

    private static async Task WithClusterAsync(string name, Func<TestCluster, List<string>, Task> test)
    {
        var root = Directory.CreateTempSubdirectory($"httpkv-{name}-").FullName;
        var notes = new List<string>();
        var passed = false;
        await using (var cluster = new TestCluster(3, root, SnapshotCount, CatchUpEntries))
        {
            try
            {
                await cluster.StartAsync();
                await test(cluster, notes);
                passed = true;
            }
            finally
            {
                if (!passed)
                {
                    foreach (var member in cluster.Members) await File.WriteAllTextAsync(Path.Combine(root, member.Name + ".log"), member.Output);
                    await File.WriteAllLinesAsync(Path.Combine(root, "notes.txt"), notes);
                }
            }
        }
        if (passed) Directory.Delete(root, recursive: true);
    }

    private static async Task AssertConvergedAsync(TestCluster cluster, List<string> notes)
    {
        var problems = await cluster.CompareHashesAsync(TimeSpan.FromSeconds(45));
        Assert.True(problems.Count == 0, string.Join('\n', problems) + "\nnotes:\n" + string.Join('\n', notes));
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    [Fact]
    public async Task A_learner_gets_the_log_serves_only_serializable_reads_and_status_and_is_promoted()
    {
        await WithClusterAsync("learner", async (cluster, notes) =>
        {
            await MembershipFaults.WriteFillerAsync(cluster, 400); // past a snapshot: the learner starts from one
            var learner = await cluster.AddLearnerAsync();
            await MembershipFaults.WriteFillerAsync(cluster, 50);
            using var channel = GrpcChannel.ForAddress(learner.ClientUrl);
            var kv = new KV.KVClient(channel);

            var status = await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest());
            Assert.True(status.IsLearner);
            Assert.Contains("Installed a snapshot from the leader", learner.Output);
            await AssertConvergedAsync(cluster, notes); // the learner's keyspace equals the voters' at a common revision
            var read = await kv.RangeAsync(new RangeRequest { Key = B("filler/"), RangeEnd = B("filler0"), Serializable = true });
            Assert.Equal(64, read.Kvs.Count);

            // etcd 3.5's learner: everything but Status and serializable Range is refused, on both doors
            var refusals = new Func<Task>[]
            {
                () => kv.RangeAsync(new RangeRequest { Key = B("filler/1") }).ResponseAsync,
                () => kv.PutAsync(new PutRequest { Key = B("k"), Value = B("v") }).ResponseAsync,
                () => new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest()).ResponseAsync,
                () => new Etcdserverpb.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest()).ResponseAsync,
                async () =>
                {
                    using var watch = new Watch.WatchClient(channel).Watch();
                    try
                    {
                        await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("k") } });
                    }
                    catch (RpcException)
                    {
                        // etcd refuses a learner's stream before reading it, so the write can meet the stream's reset
                        // (grpc-dotnet then reports Cancelled); the refusal's status is on the response, as Go's
                        // clientv3 reads it from Recv after Send returned EOF
                    }
                    await watch.ResponseStream.MoveNext();
                },
            };
            foreach (var refused in refusals)
            {
                var error = await Assert.ThrowsAsync<RpcException>(refused);
                Assert.Equal(StatusCode.Unavailable, error.StatusCode);
                Assert.Equal(LearnerReader.NotSupported, error.Status.Detail);
            }
            using var http = new HttpClient { BaseAddress = new Uri(learner.ClientUrl), Timeout = TimeSpan.FromSeconds(60) };
            var gateway = await http.PostAsync("/v3/kv/range", new StringContent("""{"key":"Zm9v"}"""));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, gateway.StatusCode);
            Assert.Contains(LearnerReader.NotSupported, await gateway.Content.ReadAsStringAsync());
            var serializable = await http.PostAsync("/v3/kv/range", new StringContent("""{"key":"Zm9v","serializable":true}"""));
            Assert.Equal(HttpStatusCode.OK, serializable.StatusCode);
            // and the HTTP doors' streams, whichever door: the /v3 streams, both SSE watches
            foreach (var (method, path, body) in new[]
            {
                (HttpMethod.Post, "/v3/watch", """{"create_request":{"key":"Zm9v"}}"""),
                (HttpMethod.Post, "/v3/lease/keepalive", """{"ID":"1"}"""),
                (HttpMethod.Post, "/v3/election/observe", """{"name":"ZQ=="}"""),
                (HttpMethod.Get, "/v3/watch/sse?key=foo", null),
                (HttpMethod.Get, "/api/v1/watch?key=foo", null),
            })
            {
                using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body) };
                using var answer = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.True(answer.StatusCode == HttpStatusCode.ServiceUnavailable, $"{path} on a learner answered {answer.StatusCode}");
                Assert.Contains(LearnerReader.NotSupported, await answer.Content.ReadAsStringAsync());
            }

            // promoted once in sync: a voter like the others
            await cluster.PromoteAsync(learner, TimeSpan.FromSeconds(30));
            var promotedBy = DateTime.UtcNow.AddSeconds(15); // applied on the member that answered first; on this one a little later
            while ((await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest())).IsLearner)
            {
                Assert.True(DateTime.UtcNow < promotedBy, "the promoted learner still says it is a learner after 15 s");
                await Task.Delay(100);
            }
            Assert.Equal(64, (await kv.RangeAsync(new RangeRequest { Key = B("filler/"), RangeEnd = B("filler0") })).Kvs.Count);
            Assert.Equal(4, (await cluster.MemberListAsync()).Count(member => !member.IsLearner));
            await MembershipFaults.WriteFillerAsync(cluster, 50);
            await AssertConvergedAsync(cluster, notes);
        });
    }

    [Fact]
    public async Task A_member_replaced_by_a_new_empty_one_catches_up_by_snapshot_and_hashes_like_the_others()
    {
        await WithClusterAsync("replace", async (cluster, notes) =>
        {
            await MembershipFaults.WriteFillerAsync(cluster, 400);
            var leader = await cluster.LeaderAsync();
            var victim = cluster.Members.First(member => member != leader);
            var oldId = victim.Id;

            var replacement = await cluster.ReplaceAsync(victim);
            notes.Add($"{victim.Name} {oldId:x16} replaced by {replacement.Id:x16}");

            Assert.NotEqual(oldId, replacement.Id);
            var listed = await cluster.MemberListAsync();
            Assert.DoesNotContain(listed, member => member.ID == oldId);
            Assert.Contains(listed, member => member.ID == replacement.Id && member.Name == victim.Name && !member.IsLearner);
            Assert.Equal(3, listed.Count);
            Assert.Contains(replacement, cluster.Members);
            Assert.DoesNotContain(victim, cluster.Members);
            Assert.True(replacement.Logged("Installed a snapshot from the leader"), "the new member did not start from a snapshot:\n" + replacement.Output);
            await MembershipFaults.WriteFillerAsync(cluster, 50);
            await AssertConvergedAsync(cluster, notes);

            // the replacement is a full voter behind the proxy: cut off, the others still have quorum; healed, it catches up
            foreach (var other in cluster.Members.Where(member => member != replacement))
            {
                cluster.Network.Cut(replacement.Name, other.Name);
                cluster.Network.Cut(other.Name, replacement.Name);
            }
            await MembershipFaults.WriteFillerAsync(cluster, 400);
            cluster.Network.Heal();
            await AssertConvergedAsync(cluster, notes);
        });
    }

    [Theory]
    [InlineData(SnapshotInterruption.FollowerCrashesBeforeInstall)]
    [InlineData(SnapshotInterruption.FollowerKilledDuringTransfer)]
    [InlineData(SnapshotInterruption.LeaderCrashesBeforeSend)]
    public async Task A_catch_up_by_snapshot_interrupted_recovers_and_converges(SnapshotInterruption how)
    {
        await WithClusterAsync("snapshot", async (cluster, notes) =>
        {
            await MembershipFaults.WriteFillerAsync(cluster, 50);
            var (interrupted, problems) = await MembershipFaults.InterruptSnapshotAsync(cluster, how, (SnapshotCount + CatchUpEntries) * 3 / 2,
                new Random(7), notes.Add);
            Assert.True(interrupted, "the catch-up was not interrupted as meant:\n" + string.Join('\n', notes));
            Assert.Empty(problems);
            if (how == SnapshotInterruption.FollowerKilledDuringTransfer) Assert.Contains(notes, note => note.EndsWith("removed the unfinished snapshot file at its restart", StringComparison.Ordinal));
            Assert.All(cluster.Members, member => Assert.True(member.IsRunning, $"{member.Name} is down"));
            await AssertConvergedAsync(cluster, notes);
            Assert.Contains(cluster.Members, member => member.Logged("Installed a snapshot from the leader"));
        });
    }
}
