using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Peers;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Cluster;

/// <summary>
/// etcd's corruption checks: members compare HashKV at one revision. The entry checksums of the backend catch bytes
/// damaged on disk when they are read; these checks catch what a checksum cannot — a member whose data differs from
/// its peers' though every entry is intact (a bug, memory damage before the write, a backend copied from elsewhere).
/// <list type="bullet">
/// <item>At start (<c>--experimental-initial-corrupt-check</c>): the member asks each reachable peer for its hash at
/// the member's own revision; a peer with the same compacted revision and another hash stops the start with etcd's
/// "… found data inconsistency with peers". Unreachable peers (a whole cluster starting at once) are skipped, as etcd does.</item>
/// <item>Periodically (<c>--experimental-corrupt-check-time</c>), on the leader: the same comparison at the leader's
/// revision; the member whose hash is in the minority gets the CORRUPT alarm, after which the cluster refuses every
/// change until an operator clears it (<see cref="Alarms"/>).</item>
/// </list>
/// Hashes are compared only between members that have compacted to the same revision, since HashKV leaves out what
/// compaction removed.
/// </summary>
public sealed class CorruptionCheck(Member member, PeerTransport transport, ILogger logger)
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(5);

    private sealed record LocalHash(uint Hash, long Revision, long Compacted);

    private LocalHash Local() => member.Stores.Read(store =>
    {
        var revision = store.CurrentRevision;
        var hash = store.HashKv(revision, out var compacted);
        return new LocalHash(hash, revision, compacted);
    });

    /// <summary>The peers' hashes at <paramref name="revision"/>; a peer that could not answer is left out (and logged).</summary>
    private async Task<List<(ulong Id, HashKVResponse Response)>> PeerHashesAsync(long revision, CancellationToken cancellationToken)
    {
        var peers = member.Log.Members.Where(peer => peer.ID != member.Identity.MemberId).ToList();
        var answers = await Task.WhenAll(peers.Select(async peer =>
        {
            try
            {
                return (peer.ID, Response: await transport.HashKVAsync(peer.ID, revision, PeerTimeout, cancellationToken));
            }
            catch (Exception exception) when (exception is Grpc.Core.RpcException or InvalidOperationException or HttpRequestException)
            {
                logger.LogWarning("Cannot fetch the hash of peer {PeerId:x16} at revision {Revision}: {Error}", peer.ID, revision, exception.Message);
                return (peer.ID, Response: (HashKVResponse?)null);
            }
        }));
        return [.. answers.Where(answer => answer.Response is not null).Select(answer => (answer.ID, answer.Response!))];
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> with etcd's text when a peer holds other data.</summary>
    public async Task CheckInitialAsync(CancellationToken cancellationToken)
    {
        var local = Local();
        logger.LogInformation("Starting the initial corruption check: hash {Hash} at revision {Revision} (compacted {Compacted})",
            local.Hash, local.Revision, local.Compacted);
        var mismatches = 0;
        foreach (var (peer, response) in await PeerHashesAsync(local.Revision, cancellationToken))
        {
            if (response.CompactRevision != local.Compacted)
            {
                logger.LogWarning("Cannot compare with peer {PeerId:x16}: it compacted to {PeerCompacted}, this member to {Compacted}",
                    peer, response.CompactRevision, local.Compacted);
            }
            else if (response.Hash != local.Hash)
            {
                mismatches++;
                logger.LogError("Found a different hash on peer {PeerId:x16} at revision {Revision}: {PeerHash}, this member's {Hash}",
                    peer, local.Revision, response.Hash, local.Hash);
            }
        }
        if (mismatches > 0) throw new InvalidOperationException($"{member.Identity.MemberId:x16} found data inconsistency with peers");
        logger.LogInformation("Initial corruption check passed: no peer holds other data at revision {Revision}", local.Revision);
    }

    /// <summary>One periodic round (on the leader; elsewhere nothing): returns the members found corrupt, each of
    /// which has had the CORRUPT alarm raised.</summary>
    public async Task<IReadOnlyList<ulong>> CheckOnceAsync(CancellationToken cancellationToken)
    {
        if (!member.Log.IsLeader) return [];
        var local = Local();
        var hashes = new List<(ulong Id, uint Hash)> { (member.Identity.MemberId, local.Hash) };
        foreach (var (peer, response) in await PeerHashesAsync(local.Revision, cancellationToken))
        {
            if (response.CompactRevision == local.Compacted) hashes.Add((peer, response.Hash));
        }
        var majority = hashes.GroupBy(entry => entry.Hash).OrderByDescending(group => group.Count())
            .ThenByDescending(group => group.Any(entry => entry.Id == member.Identity.MemberId)).First().Key;
        var corrupt = hashes.Where(entry => entry.Hash != majority).Select(entry => entry.Id).ToList();
        foreach (var id in corrupt)
        {
            logger.LogError("Member {MemberId:x16} holds other data at revision {Revision} (hash {Hash}, the others {Majority}): raising the CORRUPT alarm",
                id, local.Revision, hashes.First(entry => entry.Id == id).Hash, majority);
            var alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = id, Alarm = AlarmType.Corrupt };
            await member.Log.ProposeAsync(new LogRequest { Alarm = alarm }, cancellationToken);
        }
        return corrupt;
    }

    /// <summary>Runs <see cref="CheckOnceAsync"/> every <paramref name="interval"/> until stopped.</summary>
    public async Task RunAsync(TimeSpan interval, TimeProvider time, CancellationToken stoppingToken)
    {
        logger.LogInformation("Periodic corruption check every {Interval}", interval);
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CheckOnceAsync(stoppingToken);
                }
                catch (EtcdException exception)
                {
                    logger.LogWarning("Corruption check round failed: {Error}", exception.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
