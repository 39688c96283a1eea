using System.Diagnostics;
using HttpKv.Server.Metrics;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Peers;

/// <summary>Since when this member has reached a peer without a failure in between (etcd's rafthttp peer status): set
/// by the first write to its Raft stream or probe answer after a failure, cleared by a lost stream or a failed probe.
/// The membership checks of <c>--strict-reconfig-check</c> read it on whichever member takes the request, as etcd's
/// <c>ActiveSince</c>; each change is logged and counted (<c>etcd_network_active_peers</c>,
/// <c>etcd_network_disconnected_peers_total</c>).</summary>
internal sealed class PeerActivity(ulong local, ulong remote, ILogger logger)
{
    private readonly Prometheus.Gauge.Child active = ServerMetrics.ActivePeers.WithLabels(ServerMetrics.PeerLabel(local), ServerMetrics.PeerLabel(remote));
    private readonly Prometheus.Counter.Child disconnected = ServerMetrics.DisconnectedPeers.WithLabels(ServerMetrics.PeerLabel(local), ServerMetrics.PeerLabel(remote));
    private long since; // Stopwatch timestamp; 0 while inactive

    public void Activate()
    {
        if (Volatile.Read(ref since) != 0 || Interlocked.CompareExchange(ref since, Math.Max(Stopwatch.GetTimestamp(), 1), 0) != 0) return;
        active.Inc();
        logger.LogInformation("Peer {PeerId:x16} became active", remote);
    }

    public void Deactivate(string reason)
    {
        if (Interlocked.Exchange(ref since, 0) == 0) return;
        active.Dec();
        disconnected.Inc();
        logger.LogWarning("Peer {PeerId:x16} became inactive: {Reason}", remote, reason);
    }

    /// <summary>How long the peer has been reachable; zero while it is not.</summary>
    public TimeSpan ActiveFor
    {
        get
        {
            var start = Volatile.Read(ref since);
            return start == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(start);
        }
    }
}
