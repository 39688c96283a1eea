using System.Globalization;
using Etcdserverpb;
using HttpKv.Server;
using Prometheus;

namespace HttpKv.Api.Metrics;

/// <summary>The member's state as etcd's gauges, read from the member when <c>/metrics</c> is scraped rather than kept
/// up to date on every write. In a registry of this host's own (the event metrics are process-wide), so a test process
/// running several members reads each one's state from its own host.</summary>
public sealed class MemberMetrics
{
    private readonly MemberHost host;
    private readonly IMaintenanceService maintenance;
    private readonly Gauge hasLeader, isLeader, isLearner, committed, applied, pending, dbSize, dbSizeInUse, keys,
        currentRevision, compactRevision, quota, serverId, serverVersion, clusterVersion, residentMemory;
    private string? serverIdLabel;

    public MemberMetrics(MemberHost host, IMaintenanceService maintenance)
    {
        this.host = host;
        this.maintenance = maintenance;
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        hasLeader = factory.CreateGauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.");
        isLeader = factory.CreateGauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.");
        isLearner = factory.CreateGauge("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.");
        // etcd's names say "total" but they are gauges: the committed and applied Raft indexes.
        committed = factory.CreateGauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.");
        applied = factory.CreateGauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.");
        pending = factory.CreateGauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.");
        dbSize = factory.CreateGauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.");
        dbSizeInUse = factory.CreateGauge("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.");
        keys = factory.CreateGauge("etcd_debugging_mvcc_keys_total", "Total number of keys.");
        currentRevision = factory.CreateGauge("etcd_debugging_mvcc_current_revision", "The current revision of store.");
        compactRevision = factory.CreateGauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.");
        quota = factory.CreateGauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.");
        serverId = factory.CreateGauge("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
            new GaugeConfiguration { LabelNames = ["server_id"] });
        serverVersion = factory.CreateGauge("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.",
            new GaugeConfiguration { LabelNames = ["server_version"] });
        clusterVersion = factory.CreateGauge("etcd_cluster_version", "Which version is running. 1 for 'cluster_version' label with current cluster version",
            new GaugeConfiguration { LabelNames = ["cluster_version"] });
        // Go's process collector name, which `etcdctl check datascale` reads; prometheus-net's own is process_working_set_bytes.
        residentMemory = factory.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        serverVersion.WithLabels(EtcdVersion.Server).Set(1);
        clusterVersion.WithLabels(EtcdVersion.Cluster).Set(1);
        Registry.AddBeforeCollectCallback(UpdateAsync);
    }

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    private async Task UpdateAsync(CancellationToken cancellationToken)
    {
        residentMemory.Set(Environment.WorkingSet);
        // Before the member has opened (WAL replay) there is no state to read: the gauges keep their last values.
        if (!host.Opened.IsCompletedSuccessfully) return;
        var member = host.Opened.Result;
        quota.Set(member.Quota.ReportedBytes);
        var log = member.Log;
        hasLeader.Set(log.Leader != 0 ? 1 : 0);
        isLeader.Set(log.IsLeader ? 1 : 0);
        isLearner.Set(log.IsLearner ? 1 : 0);
        committed.Set(log.CommittedIndex);
        applied.Set(log.AppliedIndex);
        pending.Set(log.PendingProposals);
        var store = member.Stores.Current;
        keys.Set(store.KeyCount);
        currentRevision.Set(store.CurrentRevision);
        compactRevision.Set(store.CompactedRevision);
        if (serverIdLabel is null)
        {
            serverIdLabel = member.Identity.MemberId.ToString("x", CultureInfo.InvariantCulture);
            serverId.WithLabels(serverIdLabel).Set(1);
        }
        var status = await maintenance.StatusAsync(new StatusRequest(), cancellationToken);
        dbSize.Set(status.DbSize);
        dbSizeInUse.Set(status.DbSizeInUse);
    }
}
