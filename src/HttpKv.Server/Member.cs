using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Auth;
using HttpKv.Server.Cluster;
using HttpKv.Server.Leases;
using HttpKv.Server.Peers;
using HttpKv.Storage;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>One HttpKv member: its data directory (etcd's layout: <c>member/wal</c> and <c>member/snap/db</c>),
/// the WAL, the MVCC store, the Raft log that orders writes into it, and the transport to the other members.</summary>
public sealed class Member : IAsyncDisposable
{
    private readonly WriteAheadLog wal;
    private readonly PeerTransport transport;
    private readonly ILogger logger;
    private readonly LeaseExpiry leaseExpiry;
    private readonly LeaseCheckpointer? leaseCheckpointer;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task corruptionChecks = Task.CompletedTask;
    private int disposed;

    private Member(MemberOptions options, MemberIdentity identity, WriteAheadLog wal, StoreSlot stores, ClusterLog log,
        MemberDomains domains, PeerTransport transport, TimeProvider clock, ILogger logger)
    {
        (Watches, Leases, Auth, Alarms) = (domains.Watches, domains.Leases, domains.Auth, domains.Alarms);
        Options = options;
        Identity = identity;
        this.wal = wal;
        Stores = stores;
        Log = log;
        this.transport = transport;
        this.logger = logger;
        Quota = new BackendQuota(options.QuotaBackendBytes);
        Corruption = new CorruptionCheck(this, transport, logger);
        if (options.CorruptCheckInterval > TimeSpan.Zero)
            corruptionChecks = Corruption.RunAsync(options.CorruptCheckInterval, clock, stopping.Token);
        leaseExpiry = new LeaseExpiry(log, Leases, TimeSpan.FromMilliseconds(500), clock, logger);
        LeaderMonitor = new LeaderMonitor(() => log.Leader, log.ElectionTimeout, clock, logger);
        if (options.ExperimentalEnableLeaseCheckpoint)
            leaseCheckpointer = new LeaseCheckpointer(log, Leases, options.LeaseCheckpointInterval, clock, logger);
    }

    public MemberOptions Options { get; }
    public MemberIdentity Identity { get; }
    public StoreSlot Stores { get; }
    public ClusterLog Log { get; }

    /// <summary>The member's watchers: every applied batch's events are published to them.</summary>
    public Watch.WatchHub Watches { get; }

    /// <summary>The member's leases.</summary>
    public Lessor Leases { get; }

    /// <summary>The member's users, roles and auth switch.</summary>
    public AuthStore Auth { get; }

    /// <summary>The cluster's active alarms.</summary>
    public Alarms Alarms { get; }
    public BackendQuota Quota { get; }
    public CorruptionCheck Corruption { get; }
    /// <summary>Ends the streams that require a leader once this member has long had none (etcd's monitorLeader).</summary>
    public LeaderMonitor LeaderMonitor { get; }

    /// <summary>etcd's check for a request whose client asked for a leader (the <c>hasleader</c> metadata): refused
    /// with "etcdserver: no leader" while this member knows none.</summary>
    public void CheckHasLeader()
    {
        if (Log.Leader == 0) throw EtcdErrors.NoLeader.ToException();
    }

    public static async Task<Member> StartAsync(MemberOptions options, MemberIdentity flagIdentity, Transport.TransportSecurity security,
        ITokenProvider tokens, TimeProvider clock, ILoggerFactory loggerFactory)
    {
        if (Failpoints.Error is { } failpointError) throw new ArgumentException(failpointError);
        if (Failpoints.Active.Length > 0)
            loggerFactory.CreateLogger<Member>().LogWarning("Failpoints enabled ({Variable}={Failpoints}): this member will crash or stall on purpose",
                Failpoints.Variable, Failpoints.Active);
        var dataDir = Path.GetFullPath(options.ResolvedDataDir);
        var snapDir = Path.Combine(dataDir, "member", "snap");
        Directory.CreateDirectory(snapDir);
        RemoveUnfinishedSnapshots(snapDir, loggerFactory.CreateLogger<Member>());
        var backendPath = Path.Combine(snapDir, "db");
        var walDir = string.IsNullOrEmpty(options.WalDir) ? Path.Combine(dataDir, "member", "wal") : Path.GetFullPath(options.WalDir);
        var wal = WriteAheadLog.Open(walDir, new WalOptions { SegmentSizeBytes = options.WalSegmentSizeBytes }, loggerFactory.CreateLogger<WriteAheadLog>());
        StoreSlot? stores = null;
        try
        {
            MvccStore OpenStore() => BackendMeta.Open(backendPath, new MvccOptions { MapSizeBytes = options.BackendMapSizeBytes },
                loggerFactory.CreateLogger<MvccStore>());
            stores = new StoreSlot(OpenStore());
            var (log, identity, transport, domains) = await ClusterBootstrap.StartAsync(new ClusterBootstrap.Start(
                options, flagIdentity, wal, stores, backendPath, OpenStore, snapDir, security.Peer, tokens, clock, loggerFactory));
            var logger = loggerFactory.CreateLogger<Member>();
            logger.LogInformation("Member {Name} ({MemberId:x16}) of cluster {ClusterId:x16} opened {DataDir} at revision {Revision}",
                identity.Name, identity.MemberId, identity.ClusterId, dataDir, stores.Current.CurrentRevision);
            return new Member(options, identity, wal, stores, log, domains, transport, clock, logger);
        }
        catch
        {
            stores?.Dispose();
            wal.Dispose();
            throw;
        }
    }

    /// <summary>A snapshot being received (incoming-*.db) or prepared for a peer or a client (send-*.db, send-client-*.db) when the member died is
    /// of no use after a restart (the leader sends a new one): as etcd's snapshotter removes its tmp files at start,
    /// these are deleted rather than left to fill the disk one crash at a time.</summary>
    public static int RemoveUnfinishedSnapshots(string snapDir, ILogger logger)
    {
        var removed = 0;
        foreach (var pattern in new[] { "incoming-*.db", "send-*.db" })
        {
            foreach (var file in Directory.EnumerateFiles(snapDir, pattern))
            {
                File.Delete(file);
                removed++;
                logger.LogWarning("Removed the unfinished snapshot file {File} left by an earlier run", Path.GetFileName(file));
            }
        }
        return removed;
    }

    /// <summary>Publishes this member's name and client URLs through the log, as etcd does before it serves
    /// clients; retries until a leader commits it.</summary>
    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        var attributes = new Etcdserverpb.Member { ID = Identity.MemberId, Name = Identity.Name };
        attributes.ClientURLs.AddRange(Identity.ClientUrls);
        while (true)
        {
            try
            {
                await Log.ProposeAsync(new LogRequest { MemberAttributes = attributes }, cancellationToken);
                return;
            }
            catch (EtcdException exception)
            {
                logger.LogDebug("Publishing member attributes failed ({Error}); retrying", exception.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Options.HeartbeatInterval), cancellationToken);
            }
        }
    }

    /// <summary>Sends a request through the log and answers with its applied result, header filled. Without a quota
    /// to raise, the task is the log's own.</summary>
    public Task<T> ProposeAsync<T>(LogRequest request, CancellationToken cancellationToken) where T : class, IMessage, IHasResponseHeader
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.CalculateSize() > Options.MaxRequestBytes) return Task.FromException<T>(EtcdErrors.RequestTooLarge.ToException());
        var quota = Quota.CheckAsync(this, request, cancellationToken);
        return quota.IsCompletedSuccessfully ? Log.ProposeAsync<T>(request, cancellationToken, fillHeader: true) : AfterQuotaAsync(Log, quota, request, cancellationToken);

        // static, so that the fast path allocates no closure for it
        static async Task<T> AfterQuotaAsync(ClusterLog log, Task check, LogRequest request, CancellationToken cancellationToken)
        {
            await check;
            return await log.ProposeAsync<T>(request, cancellationToken, fillHeader: true);
        }
    }

    /// <summary>Another member's Status, asked on its peer port.</summary>
    public Task<StatusResponse> PeerStatusAsync(ulong id, TimeSpan timeout, CancellationToken cancellationToken) =>
        transport.StatusAsync(id, timeout, cancellationToken);

    /// <summary>How long this member has reached member <paramref name="id"/> without a failure (itself: always).</summary>
    public TimeSpan PeerActiveFor(ulong id) => id == Identity.MemberId ? TimeSpan.MaxValue : transport.ActiveFor(id);

    /// <summary>Forwards a learner's promotion to the leader, on its peer port.</summary>
    public Task<MemberPromoteResponse> ForwardPromoteAsync(ulong leader, ulong learner, TimeSpan timeout, CancellationToken cancellationToken) =>
        transport.PromoteAsync(leader, learner, timeout, cancellationToken);

    /// <summary>The header etcd puts on every response.</summary>
    public ResponseHeader Header(long revision)
    {
        var header = new ResponseHeader { Revision = revision };
        Log.FillHeader(header); // the one place that says what else a header holds
        return header;
    }

    /// <summary>The header at the store's current revision: the answer of a call that reads no revision of its own.</summary>
    public ResponseHeader CurrentHeader() => Header(Stores.Current.CurrentRevision);

    /// <summary>The header of a response the store answered: its revision kept (the current one when it set none), the
    /// member's fields added.</summary>
    public ResponseHeader Header(ResponseHeader? answered) => Header(answered?.Revision ?? Stores.Current.CurrentRevision);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        await stopping.CancelAsync();
        await corruptionChecks;
        await leaseExpiry.DisposeAsync();
        await LeaderMonitor.DisposeAsync();
        if (leaseCheckpointer is not null) await leaseCheckpointer.DisposeAsync();
        await Log.DisposeAsync();
        await transport.DisposeAsync();
        wal.Dispose();
        Stores.Dispose();
    }
}
