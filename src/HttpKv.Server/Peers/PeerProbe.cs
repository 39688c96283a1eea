using System.Diagnostics;
using HttpKv.Protocol.Peer;
using HttpKv.Server.Metrics;

namespace HttpKv.Server.Peers;

/// <summary>Measures the round trip to a peer every <see cref="Interval"/> for etcd's
/// <c>etcd_network_peer_round_trip_time_seconds{To=…}</c>, as etcd's prober does: one small call (Hello, which reads
/// nothing but the membership) on the same channel the Raft stream uses. A probe that fails is not recorded. The label is
/// the peer's ID in hex without padding, as etcd's types.ID prints it. Each answer, or failure, also tells the peer's
/// <see cref="PeerActivity"/> (a follower has no Raft traffic to the other followers, so the probe is what shows
/// them reachable); the first probe goes at once.</summary>
internal static class PeerProbe
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    public static async Task RunAsync(ulong peerId, Func<RaftPeer.RaftPeerClient> client, PeerActivity activity, CancellationToken stopping)
    {
        var histogram = ServerMetrics.PeerRoundTrip.WithLabels(peerId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await client().HelloAsync(new HelloRequest(), deadline: DateTime.UtcNow + Deadline, cancellationToken: stopping);
                    histogram.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
                    activity.Activate();
                }
                catch (Exception) when (!stopping.IsCancellationRequested)
                {
                    // The peer is down or slow, or the channel was just replaced: not reachable until it answers again
                    // (the Raft stream's reconnection logs it); the probe tries again next time.
                    activity.Deactivate("its probe was not answered");
                }
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // stopping: the timer's cancellation, or a probe in flight cancelled
        }
    }
}
