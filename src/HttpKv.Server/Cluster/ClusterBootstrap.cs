using HttpKv.Mvcc;
using HttpKv.Protocol.Peer;
using HttpKv.Raft;
using HttpKv.Server.Auth;
using HttpKv.Server.Leases;
using HttpKv.Server.Peers;
using HttpKv.Server.Transport;
using HttpKv.Server.Watch;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;
using EtcdMember = Etcdserverpb.Member;

namespace HttpKv.Server.Cluster;

/// <summary>Starts a member's Raft log in one of the three ways etcd does: founding a new cluster
/// (--initial-cluster-state new on an empty data dir), joining an existing one (state existing: the cluster's ID and
/// members come from a peer, the data from the leader's snapshot), or restarting from the data dir (the flags'
/// cluster settings are then ignored: the backend and the WAL know the members).</summary>
public static class ClusterBootstrap
{
    public sealed record Start(MemberOptions Options, MemberIdentity FlagIdentity, WriteAheadLog Wal, StoreSlot Stores,
        string BackendPath, Func<MvccStore> OpenStore, string SnapshotDirectory, TlsEndpointSecurity PeerTls, ITokenProvider Tokens, TimeProvider Clock, ILoggerFactory LoggerFactory);

    public static async Task<(ClusterLog Log, MemberIdentity Identity, PeerTransport Transport, MemberDomains Domains)> StartAsync(Start start)
    {
        var store = start.Stores.Current;
        var fresh = store.ConsistentIndex == 0 && start.Wal.Entries.Count == 0 && start.Wal.HardState == default;
        if (!fresh) CheckBackendCoversWal(start);
        var logger = start.LoggerFactory.CreateLogger("HttpKv.Server.Cluster");
        var storage = new MemoryStorage();
        Membership membership;
        ulong clusterId, memberId;
        ConfState confState;
        if (fresh && start.Options.InitialClusterState != "existing")
        {
            (membership, confState) = await FoundAsync(start, storage);
            (clusterId, memberId) = (start.FlagIdentity.ClusterId, start.FlagIdentity.MemberId);
        }
        else if (BackendMeta.ReadNumber(store, BackendMeta.ClusterId) is { } persisted)
        {
            membership = Membership.Decode(store.ReadMeta(BackendMeta.Members));
            confState = ConfStateCodec.Decode(store.ReadMeta(BackendMeta.ConfState));
            clusterId = persisted;
            memberId = OwnId(membership, start.Options) ?? start.FlagIdentity.MemberId;
            if (membership.IsRemoved(memberId)) throw new InvalidOperationException("the member has been permanently removed from the cluster");
            Restore(start, storage, confState);
        }
        else
        {
            (clusterId, membership) = await JoinAsync(start, logger);
            memberId = OwnId(membership, start.Options)
                ?? throw new InvalidOperationException("this member's peer URLs are not in the cluster's member list: add it with `etcdctl member add` first");
            confState = ConfState.Empty;
            Restore(start, storage, confState);
        }
        start.Wal.ForgetEntriesAtOpen(); // the Raft storage holds what it needs of them
        var identity = start.FlagIdentity with { ClusterId = clusterId, MemberId = memberId };
        var transport = new PeerTransport(memberId, clusterId, start.PeerTls, start.LoggerFactory);
        foreach (var member in membership.Snapshot) transport.AddOrUpdatePeer(member.ID, [.. member.PeerURLs]);
        var node = new RawNode(new RaftConfig
        {
            Id = memberId,
            Storage = storage,
            Applied = store.ConsistentIndex,
            ElectionTicks = Math.Max(start.Options.ElectionTimeout / Math.Max(start.Options.HeartbeatInterval, 1), 2),
            HeartbeatTicks = 1,
            Random = new Random(unchecked((int)memberId ^ Environment.TickCount)),
        });
        var electionTicks = Math.Max(start.Options.ElectionTimeout / Math.Max(start.Options.HeartbeatInterval, 1), 2);
        var tick = TimeSpan.FromMilliseconds(start.Options.HeartbeatInterval);
        var lessor = new Lessor(Lessor.MinTtlFor(electionTicks, tick), start.Clock);
        lessor.Restore(start.Stores.Current);
        var auth = new AuthStore(start.Tokens, start.Options.BcryptCost);
        auth.Restore(start.Stores.Current);
        var domains = new MemberDomains(new WatchHub(new StoreHistory(start.Stores)), lessor, auth, Alarms.Decode(store.ReadMeta(BackendMeta.Alarms)));
        if (confState.Voters.Count == 1 && confState.Voters[0] == memberId) node.Campaign(); // a lone voter need not wait an election timeout
        var log = new ClusterLog(node, storage, start.Wal, start.Stores, transport, membership, new ClusterLogOptions
        {
            MemberId = memberId,
            ClusterId = clusterId,
            SnapshotDirectory = start.SnapshotDirectory,
            TickInterval = TimeSpan.FromMilliseconds(start.Options.HeartbeatInterval),
            SnapshotCount = start.Options.SnapshotCount,
            SnapshotCatchUpEntries = start.Options.ExperimentalSnapshotCatchupEntries,
            ElectionTicks = electionTicks,
            WarningApplyDuration = start.Options.EffectiveWarningApplyDuration,
            Clock = start.Clock,
        }, store.ConsistentIndex, domains, start.LoggerFactory.CreateLogger<ClusterLog>())
        {
            BackendPath = start.BackendPath,
            OpenStore = start.OpenStore,
        };
        log.SetConfState(confState);
        transport.RemovedByPeer += log.OnRemovedByPeer;
        return (log, identity, transport, domains);
    }

    /// <summary>A founding member: every founder starts from the same snapshot at index 1, term 1, listing all voters.</summary>
    private static async Task<(Membership, ConfState)> FoundAsync(Start start, MemoryStorage storage)
    {
        var (membership, confState, _) = FounderState.Describe(start.Options, start.FlagIdentity.MemberId, start.FlagIdentity.ClientUrls);
        var bootstrap = MemoryStorage.ForNewCluster(confState.Voters);
        storage.ApplySnapshot(bootstrap.Snapshot());
        storage.SetHardState(bootstrap.HardState);
        await FounderState.WriteAsync(start.Stores.Current, start.Wal, membership, confState, start.FlagIdentity.ClusterId);
        return (membership, confState);
    }

    /// <summary>The backend must hold every entry the WAL no longer does: the WAL's entries (or its snapshot marker)
    /// start right after the backend's consistent index or earlier. A backend that is behind (deleted, truncated to
    /// nothing, replaced by an older copy) while the WAL's older segments are released would make the member serve
    /// a state with entries missing: refuse to start instead.</summary>
    internal static void CheckBackendCoversWal(Start start) =>
        CheckBackendCoversWal(start.Stores.Current.ConsistentIndex, start.Wal.Entries.Count > 0 ? start.Wal.Entries[0].Index : null,
            start.Wal.Snapshot?.Index, start.Wal.CreatedAtOpen, start.BackendPath);

    /// <summary>See <see cref="CheckBackendCoversWal(Start)"/>. Also refuses a WAL created at this start (no segment
    /// was found) beside a backend that has applied entries: the WAL's files were deleted, and with them the member's
    /// Raft term and vote (a member that forgot its vote may vote twice in one term).</summary>
    public static void CheckBackendCoversWal(ulong consistentIndex, ulong? firstWalEntry, ulong? walSnapshot, bool walCreatedAtOpen, string backendPath)
    {
        if (consistentIndex > 0 && walCreatedAtOpen)
        {
            throw new InvalidOperationException(
                $"the WAL had no segment (a new one was created) but the backend '{backendPath}' has applied entries up to index {consistentIndex}: the member's Raft term and vote " +
                "are lost (the WAL directory was deleted or replaced); restore this member from a snapshot or remove it and add it back with an empty data dir");
        }
        var needed = firstWalEntry is { } first ? first - 1 : walSnapshot ?? 0;
        if (consistentIndex < needed)
        {
            throw new InvalidOperationException(
                $"the backend '{backendPath}' is at log index {consistentIndex}, but the WAL holds entries only after index {needed}: " +
                $"entries {consistentIndex + 1} to {needed} are in neither (the backend was deleted, truncated or replaced by an older copy); " +
                "restore this member from a snapshot or remove it and add it back with an empty data dir");
        }
    }

    /// <summary>Rebuilds the Raft storage: the backend's applied state as the snapshot, the WAL's later entries and hard state.</summary>
    private static void Restore(Start start, MemoryStorage storage, ConfState confState)
    {
        var store = start.Stores.Current;
        var applied = store.ConsistentIndex;
        if (applied > 0)
        {
            var term = BackendMeta.ReadNumber(store, BackendMeta.RaftTerm) ?? 1;
            storage.ApplySnapshot(new Snapshot(new SnapshotMetadata(applied, term, confState), ReadOnlyMemory<byte>.Empty));
        }
        var entries = start.Wal.Entries.Where(entry => entry.Index > applied).ToList();
        if (entries.Count > 0) storage.Append(entries);
        var hard = start.Wal.HardState;
        storage.SetHardState(hard with { Commit = Math.Max(hard.Commit, applied) });
    }

    private static ulong? OwnId(Membership membership, MemberOptions options)
    {
        var mine = MemberOptions.SplitUrls(options.InitialAdvertisePeerUrls).ToHashSet();
        return membership.Snapshot.FirstOrDefault(member => member.PeerURLs.Any(mine.Contains))?.ID;
    }

    /// <summary>Asks the other members named in --initial-cluster for the cluster's ID and members.</summary>
    private static async Task<(ulong ClusterId, Membership Membership)> JoinAsync(Start start, ILogger logger)
    {
        var mine = MemberOptions.SplitUrls(start.Options.InitialAdvertisePeerUrls);
        var peers = MemberIdentities.InitialMembers(start.Options).SelectMany(member => member.PeerUrls).Where(url => !mine.Contains(url)).Distinct().ToList();
        var lastErrors = new Dictionary<string, string>();
        for (var attempt = 0; attempt < 60; attempt++)
        {
            foreach (var url in peers)
            {
                try
                {
                    using var channel = start.PeerTls.CreateChannel(url);
                    var request = new HelloRequest();
                    request.PeerUrls.AddRange(mine);
                    var hello = await new RaftPeer.RaftPeerClient(channel).HelloAsync(request, deadline: DateTime.UtcNow.AddSeconds(2));
                    var membership = new Membership();
                    foreach (var member in hello.Members) membership.Add(member);
                    logger.LogInformation("Joining cluster {ClusterId:x16} through {Url}: {Members} members", hello.ClusterId, url, hello.Members.Count);
                    return (hello.ClusterId, membership);
                }
                catch (Exception exception) when (exception is Grpc.Core.RpcException or HttpRequestException or System.Security.Authentication.AuthenticationException)
                {
                    var error = Innermost(exception);
                    if (lastErrors.TryAdd(url, error)) logger.LogWarning("could not get cluster response from {Url}: {Error}", url, error);
                    else logger.LogDebug("could not get cluster response from {Url}: {Error}", url, error);
                    lastErrors[url] = error;
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        throw new InvalidOperationException("could not reach any member of the existing cluster named in --initial-cluster; last errors: " +
            string.Join("; ", lastErrors.Select(pair => $"{pair.Key}: {pair.Value}")));
    }

    /// <summary>The innermost message: for a refused TLS handshake that is the reason, not "Error starting gRPC call".</summary>
    private static string Innermost(Exception exception)
    {
        while (exception.InnerException is not null) exception = exception.InnerException;
        return exception.Message;
    }
}
