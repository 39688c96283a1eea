using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Storage.Backend;
using Xunit.Abstractions;

namespace HttpKv.Robustness.Tests;

/// <summary>etcd's corruption checks on a real 3-member cluster. One follower's backend is rewritten while it is
/// stopped so that one value differs from its peers' with every entry checksum intact (what the checksums cannot
/// catch: raw flipped bytes are refused at open, see CorruptionTests): with the initial check it refuses to start;
/// without it, it starts, and the leader's periodic check raises the CORRUPT alarm, after which the cluster takes no
/// writes until the alarm is cleared.</summary>
public sealed class CorruptCheckTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string root = Directory.CreateTempSubdirectory("httpkv-corrupt-check-").FullName;
    private TestCluster cluster = null!;
    private readonly HashSet<string> initialCheck = [];

    public async Task InitializeAsync()
    {
        cluster = new TestCluster(3, root)
        {
            ExtraFlags = member => initialCheck.Contains(member.Name)
                ? ["--experimental-corrupt-check-time", "1s", "--experimental-initial-corrupt-check"]
                : ["--experimental-corrupt-check-time", "1s"],
        };
        await cluster.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await cluster.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    /// <summary>Rewrites the newest stored revision of <paramref name="key"/> with another value, checksum and all.</summary>
    private static void RewriteValue(string dataDir, string key, string value)
    {
        using var backend = LmdbBackend.Open(Path.Combine(dataDir, "member", "snap", "db"), new BackendOptions { Buckets = ["key", "meta"] });
        var bucket = backend.Bucket("key");
        byte[]? storedKey = null;
        Mvccpb.KeyValue? found = null;
        using (var read = backend.BeginRead())
        {
            read.Scan(bucket, default, (revision, encoded) =>
            {
                var kv = Mvccpb.KeyValue.Parser.ParseFrom(encoded);
                if (kv.Key.ToStringUtf8() == key && revision.Length == 17)
                {
                    storedKey = revision.ToArray();
                    found = kv;
                }
                return true;
            });
        }
        Assert.NotNull(found);
        found.Value = Bytes(value);
        using var write = backend.BeginWrite();
        write.Put(bucket, storedKey, found.ToByteArray());
        write.Commit();
    }

    [Fact]
    public async Task A_member_with_other_data_fails_the_initial_check_and_raises_CORRUPT_under_the_periodic_one()
    {
        var leader = await cluster.LeaderAsync() ?? throw new InvalidOperationException("no leader");
        using var leaderChannel = GrpcChannel.ForAddress(leader.ClientUrl);
        var kv = new KV.KVClient(leaderChannel);
        for (var i = 0; i < 30; i++) await kv.PutAsync(new PutRequest { Key = Bytes($"k/{i:D2}"), Value = Bytes($"v{i}") });
        Assert.Empty(await cluster.CompareHashesAsync());

        var victim = cluster.Voters.First(member => member != leader);
        await victim.KillAsync(); // LMDB commits are in the page cache: nothing of the backend is lost
        RewriteValue(victim.DataDir, "k/07", "tampered");

        initialCheck.Add(victim.Name);
        var exit = await victim.StartOrExitAsync();
        output.WriteLine(string.Join('\n', victim.Output.Split('\n').Where(line => line.Contains("inconsistency") || line.Contains("different hash"))));
        Assert.NotNull(exit);
        Assert.NotEqual(0, exit);
        Assert.Contains($"{victim.Id:x16} found data inconsistency with peers", victim.Output);

        initialCheck.Remove(victim.Name);
        await victim.StartAsync();
        var maintenance = new Maintenance.MaintenanceClient(leaderChannel);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        AlarmResponse alarms;
        do
        {
            await Task.Delay(250);
            alarms = await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get });
        } while (alarms.Alarms.Count == 0 && DateTime.UtcNow < deadline);
        var alarm = Assert.Single(alarms.Alarms);
        Assert.Equal(AlarmType.Corrupt, alarm.Alarm);
        Assert.Equal(victim.Id, alarm.MemberID);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await kv.PutAsync(new PutRequest { Key = Bytes("after"), Value = Bytes("x") }));
        Assert.Equal("etcdserver: corrupt cluster", refused.Status.Detail);
        Assert.Equal("v8", (await kv.RangeAsync(new RangeRequest { Key = Bytes("k/08") })).Kvs[0].Value.ToStringUtf8()); // reads go on
    }
}
