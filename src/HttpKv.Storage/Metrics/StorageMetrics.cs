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

    // Compaction, as etcd's mvcc layer reports it. HttpKv compacts the backend in the apply batch's one write
    // transaction, so its one pause is the whole backend compaction.
    public static readonly Histogram CompactionPause = Prometheus.Metrics.CreateHistogram(
        "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds", "Bucketed histogram of db compaction pause duration.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 14) });

    public static readonly Histogram CompactionTotal = Prometheus.Metrics.CreateHistogram(
        "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds", "Bucketed histogram of db compaction total duration.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(100, 2, 14) });

    public static readonly Histogram IndexCompactionPause = Prometheus.Metrics.CreateHistogram(
        "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds", "Bucketed histogram of index compaction pause duration.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.5, 2, 12) });

    /// <summary>The revisions compaction removed from the backend.</summary>
    public static readonly Counter CompactionKeys = Prometheus.Metrics.CreateCounter(
        "etcd_debugging_mvcc_db_compaction_keys_total", "Total number of db keys compacted.");
}
