using Etcdserverpb;
using HttpKv.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Compaction;

/// <summary>Compacts history as <c>--auto-compaction-mode</c>/<c>--auto-compaction-retention</c> ask, through the log
/// like any client's compaction (so every member of a cluster compacts at the same revision).</summary>
public sealed class AutoCompactor(MemberHost host, IKvService kv, TimeProvider time, ILogger<AutoCompactor> logger) : BackgroundService
{
    /// <summary>How often revision mode checks, as etcd's revision compactor does.</summary>
    public static readonly TimeSpan RevisionCheckInterval = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var policy = AutoCompactionPolicy.Parse(host.Options.AutoCompactionMode, host.Options.AutoCompactionRetention);
        if (!policy.Enabled) return;
        var member = await host.Ready.WaitAsync(stoppingToken);
        logger.LogInformation("Auto-compaction on: mode {Mode}, retention {Retention}", host.Options.AutoCompactionMode, host.Options.AutoCompactionRetention);
        var schedule = policy.Period > TimeSpan.Zero ? new PeriodicCompactionSchedule(policy.Period) : null;
        var interval = schedule?.SampleInterval ?? RevisionCheckInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var store = member.Stores.Current;
            var current = store.CurrentRevision;
            var target = schedule is not null ? schedule.Observe(time.GetUtcNow(), current) : current - policy.Revisions;
            // Only the leader proposes, as in etcd; every member applies the compaction from the log.
            if (target > store.CompactedRevision && member.Log.IsLeader) await CompactAsync(target.Value, stoppingToken);
            await Task.Delay(interval, time, stoppingToken);
        }
    }

    private async Task CompactAsync(long revision, CancellationToken cancellationToken)
    {
        try
        {
            await kv.CompactAsync(new CompactionRequest { Revision = revision }, cancellationToken);
            logger.LogInformation("Auto-compacted history to revision {Revision}", revision);
        }
        catch (EtcdException exception)
        {
            // Someone compacted past it meanwhile, or the member is stopping: try again at the next tick.
            logger.LogDebug("Auto-compaction to {Revision} skipped: {Error}", revision, exception.Message);
        }
    }
}
