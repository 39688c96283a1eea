using Prometheus;

namespace HttpKv.Storage.Metrics;

/// <summary>etcd's disk metrics, under etcd's names and buckets (1 ms to 8 s, doubling), so etcd's dashboards and
/// alerts (e.g. "WAL fsync p99 over 10 ms") read HttpKv unchanged. Process-wide, as etcd's are: one member per process.</summary>
public static class StorageMetrics
{
    private static readonly double[] DiskBuckets = Histogram.ExponentialBuckets(0.001, 2, 14);

    public static readonly Histogram WalFsyncDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.",
        new HistogramConfiguration { Buckets = DiskBuckets });

    /// <summary>A gauge in etcd, despite its name.</summary>
    public static readonly Gauge WalWriteBytes = Prometheus.Metrics.CreateGauge(
        "etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL.");

    public static readonly Histogram BackendCommitDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by backend.",
        new HistogramConfiguration { Buckets = DiskBuckets });
}
