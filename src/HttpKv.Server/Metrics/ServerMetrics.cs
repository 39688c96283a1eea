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

    /// <summary>1 while this member reaches a peer (<c>Local</c> this member's ID, <c>Remote</c> the peer's, both in hex
    /// without padding), as etcd's rafthttp peer status counts it.</summary>
    public static readonly Gauge ActivePeers = Prometheus.Metrics.CreateGauge(
        "etcd_network_active_peers", "The current number of active peer connections.", "Local", "Remote");

    public static readonly Counter DisconnectedPeers = Prometheus.Metrics.CreateCounter(
        "etcd_network_disconnected_peers_total", "The total number of disconnected peers.", "Local", "Remote");

    /// <summary>The bytes of the Raft messages and snapshots sent to (<c>To</c>) and received from (<c>From</c>) each
    /// peer, and the sends and receives that failed, as etcd's rafthttp counts them.</summary>
    public static readonly Counter PeerSentBytes = Prometheus.Metrics.CreateCounter(
        "etcd_network_peer_sent_bytes_total", "The total number of bytes sent to peers.", "To");

    public static readonly Counter PeerReceivedBytes = Prometheus.Metrics.CreateCounter(
        "etcd_network_peer_received_bytes_total", "The total number of bytes received from peers.", "From");

    public static readonly Counter PeerSentFailures = Prometheus.Metrics.CreateCounter(
        "etcd_network_peer_sent_failures_total", "The total number of send failures from peers.", "To");

    public static readonly Counter PeerReceivedFailures = Prometheus.Metrics.CreateCounter(
        "etcd_network_peer_received_failures_total", "The total number of receive failures from peers.", "From");

    /// <summary>Database snapshots sent to peers (<c>To</c>) and received from them (<c>From</c>), as etcd's rafthttp
    /// counts them.</summary>
    public static readonly SnapshotTransferMetrics SnapshotSends = new("send", "sends", "To", PeerSentBytes, PeerSentFailures);

    public static readonly SnapshotTransferMetrics SnapshotReceives = new("receive", "receives", "From", PeerReceivedBytes, PeerReceivedFailures);

    /// <summary>The ID labels of etcd's peer metrics: hex without padding, as its types.ID prints.</summary>
    public static string PeerLabel(ulong id) => id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    // The MVCC operations, counted as etcd's mvcc layer counts them: writes where each member applies them, ranges
    // where a member serves them; a txn counts as one when it ran more than one operation. etcd still exports the
    // older etcd_debugging_mvcc_* names beside them, with the same values.
    private static readonly Counter[] Ranges = Pair("range", "ranges");
    private static readonly Counter[] Puts = Pair("put", "puts");
    private static readonly Counter[] Deletes = Pair("delete", "deletes");
    private static readonly Counter[] Txns = Pair("txn", "txns");

    private static Counter[] Pair(string name, string what) =>
    [
        Prometheus.Metrics.CreateCounter($"etcd_mvcc_{name}_total", $"Total number of {what} seen by this member."),
        Prometheus.Metrics.CreateCounter($"etcd_debugging_mvcc_{name}_total", $"Total number of {what} seen by this member."),
    ];

    public static readonly Gauge TotalPutSize = Prometheus.Metrics.CreateGauge(
        "etcd_debugging_mvcc_total_put_size_in_bytes", "The total size of put kv pairs seen by this member.");

    public static readonly Counter LeasesGranted = Prometheus.Metrics.CreateCounter("etcd_debugging_lease_granted_total", "The total number of granted leases.");
    public static readonly Counter LeasesRevoked = Prometheus.Metrics.CreateCounter("etcd_debugging_lease_revoked_total", "The total number of revoked leases.");
    public static readonly Counter LeasesRenewed = Prometheus.Metrics.CreateCounter("etcd_debugging_lease_renewed_total", "The number of renewed leases seen by the leader.");

    /// <summary>etcd's buckets for granted TTLs: 1 s to about three months, doubling.</summary>
    public static readonly Histogram LeaseTtl = Prometheus.Metrics.CreateHistogram(
        "etcd_debugging_lease_ttl_total", "Bucketed histogram of lease TTLs.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 24) });

    public static readonly Counter LeasesExpired = Prometheus.Metrics.CreateCounter(
        "etcd_debugging_server_lease_expired_total", "The total number of expired leases.");

    public static readonly Histogram DefragDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_disk_backend_defrag_duration_seconds", "The latency distribution of backend defragmentation.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.1, 2, 13) });

    public static readonly Gauge DefragInflight = Prometheus.Metrics.CreateGauge(
        "etcd_disk_defrag_inflight", "Whether or not defrag is active on the member. 1 means active, 0 means not.");

    public static readonly Histogram HashDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_mvcc_hash_duration_seconds", "The latency distribution of storage hash operation.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 15) });

    public static readonly Counter ClientRequests = Prometheus.Metrics.CreateCounter(
        "etcd_server_client_requests_total", "The total number of client requests per client version.",
        new CounterConfiguration { LabelNames = ["type", "client_api_version"] });

    /// <summary>Distinct client API versions counted under their own label; later ones count as "other", so that
    /// clients cannot grow the metrics without bound (etcd takes any value).</summary>
    private const int MaxClientVersions = 32;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(bool Stream, string Version), Counter.Child> ClientRequestsBy = new();

    /// <summary>Counts a client request (etcd's interceptors count every unary call and stream) by the version its
    /// client sent in the <c>client-api-version</c> metadata, "unknown" without one.</summary>
    public static void CountClientRequest(bool stream, string? version)
    {
        (bool Stream, string Version) key = (stream, version ?? "unknown");
        if (!ClientRequestsBy.TryGetValue(key, out var child))
        {
            if (ClientRequestsBy.Count >= MaxClientVersions) key.Version = "other";
            child = ClientRequestsBy.GetOrAdd(key, static k => ClientRequests.WithLabels(k.Stream ? "stream" : "unary", k.Version));
        }
        child.Inc();
    }

    /// <summary>Requests whose apply took longer than --warning-apply-duration.</summary>
    public static readonly Counter SlowApplies = Prometheus.Metrics.CreateCounter(
        "etcd_server_slow_apply_total", "The total number of slow apply requests (likely overloaded from slow disk).");

    /// <summary>Read-index rounds asked again because no answer came within etcd's 500 ms.</summary>
    public static readonly Counter SlowReadIndexes = Prometheus.Metrics.CreateCounter(
        "etcd_server_slow_read_indexes_total", "The total number of pending read indexes not in sync with leader's or timed out read index requests.");

    public static readonly Counter ReadIndexesFailed = Prometheus.Metrics.CreateCounter(
        "etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen.");

    /// <summary>A leader's heartbeat to a peer sent more than two heartbeat intervals after the previous one (etcd's
    /// timeout detector), or refused by the peer's full queue.</summary>
    public static readonly Counter HeartbeatSendFailures = Prometheus.Metrics.CreateCounter(
        "etcd_server_heartbeat_send_failures_total", "The total number of leader heartbeat send failures (likely overloaded from slow disk).");

    /// <summary>A database snapshot written out (etcd's backend snapshot: to a client, or to a follower).</summary>
    public static readonly Histogram BackendSnapshotDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_disk_backend_snapshot_duration_seconds", "The latency distribution of backend snapshots.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 17) });

    /// <summary>A follower receiving the leader's database snapshot: the whole save, and its fsync.</summary>
    public static readonly Histogram SnapshotDbSave = Prometheus.Metrics.CreateHistogram(
        "etcd_snap_db_save_total_duration_seconds", "The total latency distributions of v3 snapshot save",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.1, 2, 10) });

    public static readonly Histogram SnapshotDbFsync = Prometheus.Metrics.CreateHistogram(
        "etcd_snap_db_fsync_duration_seconds", "The latency distributions of fsyncing .snap.db file",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });

    public static readonly Gauge SnapshotApplyInProgress = Prometheus.Metrics.CreateGauge(
        "etcd_server_snapshot_apply_in_progress_total", "1 if the server is applying the incoming snapshot. 0 if none.");

    public static readonly Histogram HashRevDuration = Prometheus.Metrics.CreateHistogram(
        "etcd_mvcc_hash_rev_duration_seconds", "The latency distribution of storage hash by revision operation.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 15) });

    public static readonly Counter LearnerPromotions = Prometheus.Metrics.CreateCounter(
        "etcd_server_learner_promote_successes", "The total number of successful learner promotions while this member is leader.");

    /// <summary>A refused promotion judged on this member as the leader, by etcd's error text (bounded: a handful of errors).</summary>
    public static readonly Counter LearnerPromoteFailures = Prometheus.Metrics.CreateCounter(
        "etcd_server_learner_promote_failures", "The total number of failed learner promotions (likely learner not ready) while this member is leader.", "Reason");

    /// <summary>A watch or lease keep-alive gRPC stream that failed to receive or send for another reason than its
    /// client going away (<c>Type</c> receive or send, <c>API</c> watch or lease-keepalive), as etcd's v3rpc counts them.</summary>
    public static readonly Counter StreamFailures = Prometheus.Metrics.CreateCounter(
        "etcd_network_server_stream_failures_total", "The total number of stream failures from the local server.", "Type", "API");

    private static void Add(Counter[] counters, int count)
    {
        if (count == 0) return;
        foreach (var counter in counters) counter.Inc(count);
    }

    /// <summary>A range served by this member.</summary>
    public static void CountRange() => Add(Ranges, 1);

    /// <summary>The operations an applied KV request ran, from its answer (a txn's chosen branch, nested ones included).</summary>
    public static void CountApplied(Google.Protobuf.IMessage response, Etcdserverpb.PutRequest? put = null)
    {
        var (ranges, puts, deletes) = Operations(response);
        Add(Ranges, ranges);
        Add(Puts, puts);
        Add(Deletes, deletes);
        if (ranges + puts + deletes > 1) Add(Txns, 1);
        if (put is not null) TotalPutSize.Inc(put.Key.Length + put.Value.Length);
    }

    private static (int Ranges, int Puts, int Deletes) Operations(Google.Protobuf.IMessage response)
    {
        switch (response)
        {
            case Etcdserverpb.PutResponse:
                return (0, 1, 0);
            case Etcdserverpb.DeleteRangeResponse:
                return (0, 0, 1);
            case Etcdserverpb.RangeResponse:
                return (1, 0, 0);
            case Etcdserverpb.TxnResponse txn:
                var total = (Ranges: 0, Puts: 0, Deletes: 0);
                foreach (var op in txn.Responses)
                {
                    var (r, p, d) = op.ResponseCase switch
                    {
                        Etcdserverpb.ResponseOp.ResponseOneofCase.ResponseRange => (1, 0, 0),
                        Etcdserverpb.ResponseOp.ResponseOneofCase.ResponsePut => (0, 1, 0),
                        Etcdserverpb.ResponseOp.ResponseOneofCase.ResponseDeleteRange => (0, 0, 1),
                        Etcdserverpb.ResponseOp.ResponseOneofCase.ResponseTxn => Operations(op.ResponseTxn),
                        _ => (0, 0, 0),
                    };
                    total = (total.Ranges + r, total.Puts + p, total.Deletes + d);
                }
                return total;
            default:
                return (0, 0, 0);
        }
    }

    /// <summary>A proposal failed when it never got applied (no leader, timed out, refused for load, member stopping),
    /// as etcd counts it; an applied request answering an error (compacted revision, bad lease) is no failure.</summary>
    public static bool IsProposalFailure(EtcdException exception) =>
        exception.Error == EtcdErrors.NoLeader || exception.Error == EtcdErrors.Timeout
        || exception.Error == EtcdErrors.TooManyRequests || exception.Error == EtcdErrors.Stopped;
}

/// <summary>etcd's four families for one direction of snapshot transfers (<c>etcd_network_snapshot_{send|receive}_*</c>:
/// successes, failures, in flight, duration in buckets of 0.1 s to 51.2 s), with that direction's peer byte and
/// failure counters, which a transfer moves as well.</summary>
public sealed class SnapshotTransferMetrics
{
    private readonly Counter success, failures, peerBytes, peerFailures;
    private readonly Gauge inflights;
    private readonly Histogram seconds;

    internal SnapshotTransferMetrics(string direction, string plural, string label, Counter peerBytes, Counter peerFailures)
    {
        success = Prometheus.Metrics.CreateCounter($"etcd_network_snapshot_{direction}_success", $"Total number of successful snapshot {plural}", label);
        failures = Prometheus.Metrics.CreateCounter($"etcd_network_snapshot_{direction}_failures", $"Total number of snapshot {direction} failures", label);
        inflights = Prometheus.Metrics.CreateGauge($"etcd_network_snapshot_{direction}_inflights_total", $"Total number of inflight snapshot {plural}", label);
        seconds = Prometheus.Metrics.CreateHistogram($"etcd_network_snapshot_{direction}_total_duration_seconds",
            $"Total latency distributions of v3 snapshot {plural}",
            new HistogramConfiguration { LabelNames = [label], Buckets = Histogram.ExponentialBuckets(0.1, 2, 10) });
        this.peerBytes = peerBytes;
        this.peerFailures = peerFailures;
    }

    /// <summary>The in-flight gauge of a transfer with <paramref name="peer"/>, to raise while it lasts.</summary>
    public Gauge.Child InFlight(string peer) => inflights.WithLabels(peer);

    /// <summary>A transfer of <paramref name="bytes"/> that began at Stopwatch timestamp <paramref name="started"/> completed.</summary>
    public void Succeeded(string peer, long bytes, long started)
    {
        peerBytes.WithLabels(peer).Inc(bytes);
        success.WithLabels(peer).Inc();
        seconds.WithLabels(peer).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public void Failed(string peer)
    {
        peerFailures.WithLabels(peer).Inc();
        failures.WithLabels(peer).Inc();
    }
}
