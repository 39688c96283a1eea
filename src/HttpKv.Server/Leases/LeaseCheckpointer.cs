using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Leases;

/// <summary>etcd's lease checkpoints (--experimental-enable-lease-checkpoint; off by default, as etcd): on the leader
/// only, every <c>interval</c> (etcd's default: 5 minutes) proposes through the log the remaining TTL of every lease
/// longer than the interval, in batches of at most 1,000, so that a next leader starts each lease from its remaining
/// TTL instead of giving it the whole TTL again (<see cref="Lessor.Promote"/>). A keep-alive clears a lease's
/// checkpoint (LeaseServer). The remaining TTLs live in memory on every member, not in the backend (etcd's
/// --experimental-enable-lease-checkpoint-persist is not implemented): a restarted cluster starts leases afresh.</summary>
public sealed class LeaseCheckpointer : IAsyncDisposable
{
    /// <summary>etcd's maxLeaseCheckpointBatchSize.</summary>
    public const int MaxCheckpointsPerEntry = 1000;

    private readonly ClusterLog log;
    private readonly Lessor lessor;
    private readonly TimeSpan interval;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    public LeaseCheckpointer(ClusterLog log, Lessor lessor, TimeSpan interval, TimeProvider clock, ILogger logger)
    {
        this.log = log;
        this.lessor = lessor;
        this.interval = interval;
        this.logger = logger;
        loop = RunAsync(clock);
    }

    /// <summary>The log entries for the remaining TTLs of <paramref name="checkpoints"/>, at most 1,000 each.</summary>
    public static IEnumerable<LogRequest> Entries(IReadOnlyList<LeaseCheckpoint> checkpoints) =>
        checkpoints.Chunk(MaxCheckpointsPerEntry).Select(chunk =>
        {
            var request = new LeaseCheckpointRequest();
            request.Checkpoints.AddRange(chunk);
            return new LogRequest { LeaseCheckpoint = request };
        });

    private async Task RunAsync(TimeProvider clock)
    {
        using var timer = new PeriodicTimer(interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                if (!log.IsLeader) continue;
                foreach (var entry in Entries(lessor.Checkpoints(interval)))
                {
                    try
                    {
                        await log.ProposeAsync(entry, stopping.Token);
                    }
                    catch (EtcdException exception)
                    {
                        logger.LogDebug("Lease checkpoint failed ({Error}); retrying next round", exception.Message);
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop;
        stopping.Dispose();
    }
}
