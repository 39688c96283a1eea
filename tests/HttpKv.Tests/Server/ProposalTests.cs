using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server;
using HttpKv.Tests.Api;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Tests.Server;

/// <summary>How a write proposed on a member is answered when it cannot be applied: its caller giving up, its deadline.</summary>
public sealed class ProposalTests
{
    /// <summary>A leader whose writes cannot commit: a one-member cluster grown to two voters whose second never
    /// starts. The election timeout is longer than the request timeout (7 s), so the member keeps leading (and
    /// accepting proposals) for the whole test rather than stepping down for want of a quorum.</summary>
    private static async Task<(HttpKvFactory Factory, HttpKv.Server.Member Member)> LeaderWithoutQuorumAsync()
    {
        var factory = new HttpKvFactory(new Dictionary<string, string> { ["HttpKv:ElectionTimeout"] = "30000" });
        var member = await factory.Services.GetRequiredService<MemberHost>().Ready;
        await factory.Services.GetRequiredService<IClusterService>().MemberAddAsync(
            new MemberAddRequest { PeerURLs = { "http://127.0.0.1:1" } }, CancellationToken.None);
        return (factory, member);
    }

    private static LogRequest Put(string key) => new() { Put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("v") } };

    [Fact]
    public async Task A_write_whose_caller_gives_up_is_answered_as_cancelled_not_at_its_deadline()
    {
        var (factory, member) = await LeaderWithoutQuorumAsync();
        await using var _ = factory;
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var put = member.ProposeAsync<PutResponse>(Put("k"), giveUp.Token);
        // Waiting for the deadline instead (7 s) would fail the write with an EtcdException ("request timed out").
        var answer = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put);
        Assert.Equal(giveUp.Token, answer.CancellationToken);
        Assert.Equal(0, member.Log.PendingProposals);
    }

    [Fact]
    public async Task A_write_past_its_deadline_fails_with_etcds_timeout_error_and_counts_as_failed()
    {
        var (factory, member) = await LeaderWithoutQuorumAsync();
        await using var _ = factory;
        var failedBefore = HttpKv.Server.Metrics.ServerMetrics.ProposalsFailed.Value;
        var answer = await Assert.ThrowsAsync<EtcdException>(() => member.ProposeAsync<PutResponse>(Put("k"), CancellationToken.None));
        Assert.Equal("etcdserver: request timed out", answer.Error.Message);
        Assert.True(HttpKv.Server.Metrics.ServerMetrics.ProposalsFailed.Value > failedBefore);
        Assert.Equal(0, member.Log.PendingProposals);
    }

    /// <summary>A lightly loaded member's lone write is answered on the thread that applied it (the loop's), so that
    /// its response need not wait for a thread-pool worker to wake; batches of several go to the pool.</summary>
    [Fact]
    public async Task A_lone_write_is_answered_on_the_loop_not_by_a_thread_pool_worker()
    {
        await using var factory = new HttpKvFactory();
        var member = await factory.Services.GetRequiredService<MemberHost>().Ready;
        await member.ProposeAsync<PutResponse>(Put("warm"), CancellationToken.None);
        var answeredOn = await member.ProposeAsync<PutResponse>(Put("k"), CancellationToken.None)
            .ContinueWith(_ => Thread.CurrentThread.IsThreadPoolThread, TaskContinuationOptions.ExecuteSynchronously);
        Assert.False(answeredOn, "the lone write's answer ran on a thread-pool thread");
    }

    /// <summary>A put over gRPC whose deadline passes (etcd's Go client sends one with every call) or whose client
    /// cancels: the call ends, and the waiter behind it is answered within a tick rather than holding its place
    /// until the request timeout (7 s). (The status the server writes for such a call is not checked: a client has
    /// its own by then, and the in-memory test server lets the server's answer win the race.)</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_grpc_put_past_its_deadline_or_cancelled_leaves_no_pending_proposal(bool deadline)
    {
        var (factory, member) = await LeaderWithoutQuorumAsync();
        await using var _ = factory;
        using var channel = factory.CreateGrpcChannel();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var request = Put("k").Put;
        var kv = new KV.KVClient(channel);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await (deadline
            ? kv.PutAsync(request, deadline: DateTime.UtcNow.AddMilliseconds(300))
            : kv.PutAsync(request, cancellationToken: cancel.Token)));
        while (member.Log.PendingProposals != 0 && started.Elapsed < TimeSpan.FromSeconds(3)) await Task.Delay(20);
        Assert.Equal(0, member.Log.PendingProposals);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"the call and its waiter took {started.Elapsed} (the request timeout is 7 s)");
    }
}
