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
        currentRevision, compactRevision, quota, serverId, serverVersion, clusterVersion, residentMemory, authRevision,
        fdUsed, fdLimit, processOpenFds, processMaxFds, debuggingDbSize;
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
        authRevision = factory.CreateGauge("etcd_debugging_auth_revision", "The current revision of auth store.");
        fdUsed = factory.CreateGauge("os_fd_used", "The number of used file descriptors.");
        fdLimit = factory.CreateGauge("os_fd_limit", "The file descriptor limit.");
        // Go's process collector's names for the same two figures.
        processOpenFds = factory.CreateGauge("process_open_fds", "Number of open file descriptors.");
        processMaxFds = factory.CreateGauge("process_max_fds", "Maximum number of open file descriptors.");
        debuggingDbSize = factory.CreateGauge("etcd_debugging_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.");
        serverVersion.WithLabels(EtcdVersion.Server).Set(1);
        // The Prometheus convention's build-info family (etcd has none beyond its version gauges): HttpKv's version and
        // commit, the etcd API it serves and the runtime.
        var (version, commit) = BuildVersion();
        factory.CreateGauge("httpkv_build_info", "Which HttpKv build is running. 1 for its version, commit, etcd API version and .NET version labels.",
                new GaugeConfiguration { LabelNames = ["version", "commit", "etcd_api_version", "dotnet_version"] })
            .WithLabels(version, commit, EtcdVersion.Server, Environment.Version.ToString()).Set(1);
        clusterVersion.WithLabels(EtcdVersion.Cluster).Set(1);
        Registry.AddBeforeCollectCallback(UpdateAsync);
    }

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    /// <summary>The version and the git commit the build stamped in (the SDK's <c>1.0.0+commit</c> informational version).</summary>
    private static (string Version, string Commit) BuildVersion()
    {
        var informational = typeof(MemberMetrics).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), inherit: false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, "unknown") : (informational[..plus], informational[(plus + 1)..]);
    }

    private async Task UpdateAsync(CancellationToken cancellationToken)
    {
        residentMemory.Set(Environment.WorkingSet);
        if (FileDescriptors() is { } descriptors)
        {
            fdUsed.Set(descriptors.Used);
            fdLimit.Set(descriptors.Limit);
            processOpenFds.Set(descriptors.Used);
            processMaxFds.Set(descriptors.Limit);
        }
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
        authRevision.Set(member.Auth.Revision);
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
        debuggingDbSize.Set(status.DbSize);
        dbSizeInUse.Set(status.DbSizeInUse);
    }

    /// <summary>Open descriptors and the soft limit, from /proc as etcd's (Linux only; null elsewhere).</summary>
    private static (int Used, double Limit)? FileDescriptors()
    {
        try
        {
            var used = Directory.GetFiles("/proc/self/fd").Length;
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(text => text.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var limit = fields is { Length: > 3 } && double.TryParse(fields[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var soft) ? soft : double.PositiveInfinity;
            return (used, limit);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
