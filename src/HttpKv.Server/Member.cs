using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>One HttpKv member: its data directory (etcd's layout: <c>member/wal</c> and <c>member/snap/db</c>),
/// the WAL, the MVCC store and the log that orders writes into it.</summary>
public sealed class Member : IAsyncDisposable
{
    private readonly WriteAheadLog wal;

    private Member(MemberOptions options, MemberIdentity identity, WriteAheadLog wal, MvccStore store, LocalLog log)
    {
        Options = options;
        Identity = identity;
        this.wal = wal;
        Store = store;
        Log = log;
    }

    public MemberOptions Options { get; }
    public MemberIdentity Identity { get; }
    public MvccStore Store { get; }
    public IReplicatedLog Log { get; }

    public static async Task<Member> StartAsync(MemberOptions options, MemberIdentity identity, ILoggerFactory loggerFactory)
    {
        var dataDir = Path.GetFullPath(options.ResolvedDataDir);
        var memberDir = Path.Combine(dataDir, "member");
        Directory.CreateDirectory(Path.Combine(memberDir, "snap"));
        var wal = WriteAheadLog.Open(Path.Combine(memberDir, "wal"), new WalOptions(), loggerFactory.CreateLogger<WriteAheadLog>());
        MvccStore? store = null;
        try
        {
            store = MvccStore.Open(Path.Combine(memberDir, "snap", "db"), new MvccOptions { MapSizeBytes = options.BackendMapSizeBytes },
                loggerFactory.CreateLogger<MvccStore>());
            var log = await LocalLog.StartAsync(wal, store, identity.MemberId, options.SnapshotCount, loggerFactory.CreateLogger<LocalLog>());
            loggerFactory.CreateLogger<Member>().LogInformation(
                "Member {Name} ({MemberId:x16}) of cluster {ClusterId:x16} opened {DataDir} at revision {Revision}",
                identity.Name, identity.MemberId, identity.ClusterId, dataDir, store.CurrentRevision);
            return new Member(options, identity, wal, store, log);
        }
        catch
        {
            store?.Dispose();
            wal.Dispose();
            throw;
        }
    }

    /// <summary>The header etcd puts on every response.</summary>
    public ResponseHeader Header(long revision) => new()
    {
        ClusterId = Identity.ClusterId,
        MemberId = Identity.MemberId,
        Revision = revision,
        RaftTerm = Log.Term,
    };

    private int disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        await Log.DisposeAsync();
        wal.Dispose();
        Store.Dispose();
    }
}
