using HttpKv.Server.Cluster;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Server.Maintenance;

/// <summary>The flags of <c>httpkv snapshot restore</c>, named and defaulted as etcdctl's.</summary>
public sealed record SnapshotRestoreOptions
{
    public required string SnapshotPath { get; init; }
    public string Name { get; init; } = "default";
    /// <summary>Empty: <c>&lt;name&gt;.httpkv</c>, the server's default.</summary>
    public string DataDir { get; init; } = "";
    /// <summary>Empty: <c>&lt;data-dir&gt;/member/wal</c>.</summary>
    public string WalDir { get; init; } = "";
    public string InitialCluster { get; init; } = "default=http://localhost:2380";
    public string InitialClusterToken { get; init; } = "etcd-cluster";
    public string InitialAdvertisePeerUrls { get; init; } = "http://localhost:2380";
    public bool SkipHashCheck { get; init; }
}

/// <summary>What a restore made.</summary>
public sealed record SnapshotRestoreResult(string DataDir, ulong MemberId, ulong ClusterId, long Revision, int Members, long DatabaseBytes);

/// <summary>
/// <c>etcdctl snapshot restore</c> for HttpKv: makes the data dir of one founding member of a NEW cluster from a
/// saved snapshot. Run it once per member with the same snapshot, --initial-cluster and --initial-cluster-token; each
/// member then starts (with the same flags) as a voter of that cluster, holding the snapshot's data.
/// </summary>
/// <remarks>
/// Steps: check the flags and that the data dir (and WAL dir) is empty or missing; copy the database out of the file
/// while checking its SHA-256; open it (every entry's checksum is checked); rewrite what belonged to the old
/// cluster — the members, Raft configuration and cluster ID become the new ones (IDs computed from the peer URLs and
/// the token, as at bootstrap), the Raft term restarts at 1, alarms are cleared — and keep the keys with their
/// history, the leases and users/roles; write a WAL that starts at the database's consistent index. The member then
/// starts as one restarting from that point (<see cref="FounderState"/>), the same path a member founded on an empty
/// data dir takes. On any failure what was created is removed.
/// </remarks>
public static class SnapshotRestore
{
    public static async Task<SnapshotRestoreResult> RestoreAsync(SnapshotRestoreOptions options, CopyProgress? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var memberOptions = new MemberOptions
        {
            Name = options.Name,
            DataDir = options.DataDir,
            WalDir = options.WalDir,
            InitialCluster = options.InitialCluster,
            InitialClusterToken = options.InitialClusterToken,
            InitialAdvertisePeerUrls = options.InitialAdvertisePeerUrls,
        };
        var self = CheckFlags(memberOptions);
        var dataDir = Path.GetFullPath(memberOptions.ResolvedDataDir);
        var walDir = string.IsNullOrEmpty(options.WalDir) ? Path.Combine(dataDir, "member", "wal") : Path.GetFullPath(options.WalDir);
        CheckEmpty(dataDir, "data-dir");
        if (!string.IsNullOrEmpty(options.WalDir)) CheckEmpty(walDir, "wal-dir");
        var created = new List<string>();
        try
        {
            foreach (var directory in new[] { dataDir, walDir }.Distinct())
            {
                if (!Directory.Exists(directory)) created.Add(directory);
            }
            var snapDir = Path.Combine(dataDir, "member", "snap");
            Directory.CreateDirectory(snapDir);
            var database = Path.Combine(snapDir, "db");
            var (length, _) = await SnapshotFile.CopyVerifiedAsync(options.SnapshotPath, database, requireHash: true, options.SkipHashCheck,
                progress, cancellationToken);
            var (membership, confState, clusterId) = FounderState.Describe(memberOptions, self, []);
            long revision;
            using (var store = SnapshotFile.OpenDatabase(options.SnapshotPath, database, upgrade: true))
            {
                revision = store.CurrentRevision;
                using (var batch = store.BeginApply())
                {
                    batch.DeleteMeta(BackendMeta.Alarms); // a new cluster starts without alarms, as one founded anew
                    batch.Commit();
                }
                using var wal = WriteAheadLog.Open(walDir, new WalOptions(), NullLogger.Instance);
                await FounderState.WriteAsync(store, wal, membership, confState, clusterId);
            }
            return new SnapshotRestoreResult(dataDir, self, clusterId, revision, membership.Snapshot.Count, length);
        }
        catch
        {
            foreach (var directory in new[] { dataDir, walDir }.Distinct()) RemoveContents(directory, created.Contains(directory));
            throw;
        }
    }

    /// <summary>etcd's checks: this member is named in --initial-cluster, with exactly the peer URLs it advertises.
    /// Returns its member ID.</summary>
    private static ulong CheckFlags(MemberOptions options)
    {
        IReadOnlyList<(ulong Id, string Name, IReadOnlyList<string> PeerUrls)> members;
        try
        {
            members = MemberIdentities.InitialMembers(options);
        }
        catch (FormatException exception)
        {
            throw new ArgumentException($"--initial-cluster: {exception.Message}", exception);
        }
        var self = members.FirstOrDefault(member => member.Name == options.Name);
        if (self.PeerUrls is null)
            throw new ArgumentException($"couldn't find local name \"{options.Name}\" in the initial cluster configuration (--initial-cluster {options.InitialCluster})");
        var advertised = MemberOptions.SplitUrls(options.InitialAdvertisePeerUrls).Order(StringComparer.Ordinal);
        if (!advertised.SequenceEqual(self.PeerUrls.Order(StringComparer.Ordinal)))
        {
            throw new ArgumentException(
                $"--initial-cluster has {options.Name}={string.Join(',', self.PeerUrls)} but missing from --initial-advertise-peer-urls={options.InitialAdvertisePeerUrls}");
        }
        if (members.Select(member => member.Id).Distinct().Count() != members.Count)
            throw new ArgumentException("--initial-cluster names two members with the same peer URLs");
        return self.Id;
    }

    private static void CheckEmpty(string directory, string flag)
    {
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new InvalidOperationException($"{flag} \"{directory}\" not empty: a restore makes a new member and never writes over existing data");
        if (File.Exists(directory)) throw new InvalidOperationException($"{flag} \"{directory}\" is a file");
    }

    /// <summary>Leaves a directory as the restore found it: gone if it made it, empty if it was there (it was checked empty).</summary>
    private static void RemoveContents(string directory, bool remove)
    {
        if (!Directory.Exists(directory)) return;
        if (remove)
        {
            Directory.Delete(directory, recursive: true);
            return;
        }
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }
}
