using Prometheus;

namespace HttpKv.Server.Metrics;

/// <summary>etcd's watch metrics, under the names of its watchable store, counted by the watch hub, its watchers and
/// the watch sessions (one per gRPC Watch stream, gateway watch or SSE stream). Process-wide, as etcd's are.</summary>
public static class WatchMetrics
{
    public static readonly Gauge Watchers = Prometheus.Metrics.CreateGauge(
        "etcd_debugging_mvcc_watcher_total", "Total number of watchers.");

    public static readonly Gauge Streams = Prometheus.Metrics.CreateGauge(
        "etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.");

    /// <summary>Watchers reading history instead of the hub's live events: created at an old revision, or behind.</summary>
    public static readonly Gauge SlowWatchers = Prometheus.Metrics.CreateGauge(
        "etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers.");

    public static readonly Counter Events = Prometheus.Metrics.CreateCounter(
        "etcd_debugging_mvcc_events_total", "Total number of events sent by this member.");

    /// <summary>Events queued for watchers and not yet read by their streams.</summary>
    public static readonly Gauge PendingEvents = Prometheus.Metrics.CreateGauge(
        "etcd_debugging_mvcc_pending_events_total", "Total number of pending events to be sent.");
}
