using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>etcd's <c>monitorLeader</c> for streams whose client asked for a leader (the <c>hasleader</c> metadata,
/// clientv3's <c>WithRequireLeader</c>, which Kubernetes sets on its watches): every election timeout it looks for a
/// leader, and once the member has had none for <see cref="MaxNoLeaderChecks"/> checks in a row it cancels
/// <see cref="NoLeader"/>, ending every such stream with "etcdserver: no leader" so that its client moves to a member
/// that has one rather than wait on one cut off from the cluster. A new token is handed out for the streams that start
/// after.</summary>
public sealed class LeaderMonitor : IAsyncDisposable
{
    /// <summary>etcd's maxNoLeaderCnt: ending streams costs their clients more than refusing new requests, so it waits
    /// three election timeouts.</summary>
    public const int MaxNoLeaderChecks = 3;

    private readonly Func<ulong> leader;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task checks;
    private CancellationTokenSource current = new();

    public LeaderMonitor(Func<ulong> leader, TimeSpan electionTimeout, TimeProvider clock, ILogger logger)
    {
        this.leader = leader;
        this.logger = logger;
        checks = RunAsync(electionTimeout, clock);
    }

    /// <summary>Cancelled once the member has had no leader for <see cref="MaxNoLeaderChecks"/> election timeouts.</summary>
    public CancellationToken NoLeader => Volatile.Read(ref current).Token;

    /// <summary>The checks made so far (one per election timeout).</summary>
    public long Checks => Interlocked.Read(ref checksMade);

    private long checksMade;

    private async Task RunAsync(TimeSpan electionTimeout, TimeProvider clock)
    {
        using var timer = new PeriodicTimer(electionTimeout, clock);
        var withoutLeader = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                withoutLeader = leader() == 0 ? withoutLeader + 1 : 0;
                if (withoutLeader >= MaxNoLeaderChecks)
                {
                    // As etcd, every check past the limit ends the streams that started since the last one. The old
                    // source is not disposed: a stream may have read its token just before the exchange and link to it after.
                    if (withoutLeader == MaxNoLeaderChecks)
                        logger.LogWarning("No leader for {Checks} election timeouts: ending the streams that require one", withoutLeader);
                    await Interlocked.Exchange(ref current, new CancellationTokenSource()).CancelAsync();
                }
                Interlocked.Increment(ref checksMade);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // the member is stopping
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await checks;
        stopping.Dispose();
    }
}
