using HttpKv.Protocol;
using HttpKv.Server.Cluster;

namespace HttpKv.Tests.Server;

/// <summary>etcd's waitAppliedIndex, which a new leader runs before a lease renew or time-to-live: nothing is answered
/// until the member has applied all that is committed and an entry of its own term.</summary>
public sealed class AppliedProgressTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task A_new_leader_waits_for_an_applied_entry_of_its_own_term_and_for_the_committed_index()
    {
        var applied = new AppliedProgress(index: 7, term: 2);
        // Elected at term 3 with commit 9: the grant at index 8 (term 2) is not applied yet.
        var wait = applied.WaitAsync(committedIndex: 9, leaderTerm: 3, Long, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        applied.Advance(9, 2); // the previous leader's entries, through the commit index
        Assert.False(wait.IsCompleted); // its own empty entry is not applied yet
        applied.Advance(10, 3);
        await wait;
        Assert.Equal((10UL, 3UL), (applied.Index, applied.Term));
    }

    [Fact]
    public async Task Nothing_to_wait_for_completes_at_once_and_progress_never_moves_back()
    {
        var applied = new AppliedProgress(index: 5, term: 3);
        applied.Advance(4, 2);
        Assert.Equal((5UL, 3UL), (applied.Index, applied.Term));
        Assert.True(applied.WaitAsync(5, 3, Long, CancellationToken.None).IsCompletedSuccessfully);
        await applied.WaitAsync(1, 1, TimeSpan.Zero, CancellationToken.None);
    }

    [Fact]
    public async Task Not_reaching_it_in_time_is_etcds_applied_index_timeout()
    {
        var applied = new AppliedProgress(index: 5, term: 3);
        var error = await Assert.ThrowsAsync<EtcdException>(() => applied.WaitAsync(6, 3, TimeSpan.Zero, CancellationToken.None));
        Assert.Equal("etcdserver: request timed out, waiting for the applied index took too long", error.Message);
        Assert.Equal(Grpc.Core.StatusCode.Unavailable, error.Error.Code);
    }
}
