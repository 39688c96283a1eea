using HttpKv.Protocol;
using Prometheus;

namespace HttpKv.Server.Metrics;

/// <summary>The member's event metrics under etcd's names, counted where the events happen. Process-wide, as etcd's
/// are. Values that are state (leader, indexes, sizes) are read when scraped instead: see the Api's MemberMetrics.</summary>
public static class ServerMetrics
{
    public static readonly Counter LeaderChanges = Prometheus.Metrics.CreateCounter(
        "etcd_server_leader_changes_seen_total", "The number of leader changes seen.");

    public static readonly Counter ProposalsFailed = Prometheus.Metrics.CreateCounter(
        "etcd_server_proposals_failed_total", "The total number of failed proposals seen.");

    /// <summary>etcd probes each peer every few seconds and records the round trip; buckets 0.1 ms to 3.2 s.</summary>
    public static readonly Histogram PeerRoundTrip = Prometheus.Metrics.CreateHistogram(
        "etcd_network_peer_round_trip_time_seconds", "Round-Trip-Time histogram between peers",
        new HistogramConfiguration { LabelNames = ["To"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });

    /// <summary>A proposal failed when it never got applied (no leader, timed out, refused for load, member stopping),
    /// as etcd counts it; an applied request answering an error (compacted revision, bad lease) is no failure.</summary>
    public static bool IsProposalFailure(EtcdException exception) =>
        exception.Error == EtcdErrors.NoLeader || exception.Error == EtcdErrors.Timeout
        || exception.Error == EtcdErrors.TooManyRequests || exception.Error == EtcdErrors.Stopped;
}
