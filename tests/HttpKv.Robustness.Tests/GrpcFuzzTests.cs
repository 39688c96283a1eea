using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Protocol.Peer;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Fuzz;

namespace HttpKv.Robustness.Tests;

/// <summary>Malformed gRPC calls against a live member: each ends with a status, the member keeps serving, and its
/// store is what it was (HashKV equal across a kill -9 and restart).</summary>
public sealed class GrpcFuzzTests
{
    [Fact]
    public Task Malformed_grpc_frames_get_a_status_and_lose_nothing() => WithOneMemberAsync(async member =>
    {
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
    });

    /// <summary>The peer port is an entry point too: a Raft message that does not decode (random bytes, a truncated or
    /// padded heartbeat, an unknown version or type) ends the peer's call with InvalidArgument; it must never reach the
    /// Raft loop, where an exception stops the member.</summary>
    [Fact]
    public Task Malformed_raft_messages_on_the_peer_port_are_refused_and_the_member_keeps_serving() => WithOneMemberAsync(async member =>
    {
        using var client = GrpcChannel.ForAddress(member.ClientUrl);
        var kv = new KV.KVClient(client);
        var clusterId = (await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("fz/p"), Value = ByteString.CopyFromUtf8("1") })).Header.ClusterId;
        using var peer = GrpcChannel.ForAddress(member.PeerUrl);
        var raft = new RaftPeer.RaftPeerClient(peer);
        // A heartbeat as HttpKv.Raft encodes it: version, type, flags, to, from, term, log term, index, commit, reject hint, context, entries.
        byte[] heartbeat = [1, 10, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0];
        var random = new Random(7);
        List<byte[]> malformed = [[], [2, .. heartbeat[1..]], [1, 200, .. heartbeat[2..]], [.. heartbeat, 0]];
        malformed.AddRange(Enumerable.Range(1, heartbeat.Length - 1).Select(length => heartbeat[..length]));
        malformed.AddRange(Enumerable.Range(0, 40).Select(_ =>
        {
            var bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            bytes[0] = (byte)(bytes[0] | 2); // never version 1: certainly malformed
            return bytes;
        }));

        foreach (var bytes in malformed)
        {
            using var call = raft.Stream();
            var batch = new PeerMessages { ClusterId = clusterId, From = 0xfeed };
            batch.Messages.Add(ByteString.CopyFrom(bytes));
            await call.RequestStream.WriteAsync(batch);
            await call.RequestStream.CompleteAsync();
            var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            Assert.StartsWith("malformed raft message", refused.Status.Detail, StringComparison.Ordinal);
        }

        Assert.True(member.IsRunning, $"the member died:\n{member.Output}");
        var after = await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("fz/p"), Value = ByteString.CopyFromUtf8("2") });
        Assert.True(after.Header.Revision > 1);
    });

    /// <summary>A one-member cluster (its peer URL behind the harness's proxy, as in every run) in a temporary directory.</summary>
    private static async Task WithOneMemberAsync(Func<MemberProcess, Task> test)
    {
        var root = Directory.CreateTempSubdirectory("httpkv-fuzz-").FullName;
        try
        {
            await using var cluster = new TestCluster(1, root);
            await cluster.StartAsync();
            await test(cluster.Members[0]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
