using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Leases;

/// <summary>On the leader only: every half second, proposes a revoke through the log for each expired lease, as
/// etcd's revokeExpiredLeases, so every member deletes the lease's keys at the same log index.</summary>
public sealed class LeaseExpiry : IAsyncDisposable
{
    private const int MaxRevokesPerRound = 16;
    private readonly ClusterLog log;
    private readonly Lessor lessor;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    public LeaseExpiry(ClusterLog log, Lessor lessor, TimeSpan interval, TimeProvider clock, ILogger logger)
    {
        this.log = log;
        this.lessor = lessor;
        this.logger = logger;
        loop = RunAsync(interval, clock);
    }

    private async Task RunAsync(TimeSpan interval, TimeProvider clock)
    {
        using var timer = new PeriodicTimer(interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                if (!log.IsLeader) continue;
                var expired = lessor.Expired(MaxRevokesPerRound);
                if (expired.Count > 0) await Task.WhenAll(expired.Select(RevokeAsync));
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private async Task RevokeAsync(long id)
    {
        try
        {
            await log.ProposeAsync(new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = id } }, stopping.Token);
            Metrics.ServerMetrics.LeasesExpired.Inc();
            logger.LogDebug("Lease {LeaseId:x16} expired and was revoked", id);
        }
        catch (Exception exception) when (exception is EtcdException or OperationCanceledException)
        {
            logger.LogDebug("Revoking expired lease {LeaseId:x16} failed ({Error}); retrying next round", id, exception.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop;
        stopping.Dispose();
    }
}
