using System.Buffers.Binary;
using HttpKv.Mvcc;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>Every value a member keeps in the backend's meta bucket beside the MVCC store's own two
/// (<c>consistent_index</c>, <c>finishedCompactRev</c>; <see cref="MvccStore"/>), in one table, with one byte order:
/// a number is 8 bytes big-endian, as the store's own are (and etcd's in bbolt). Each is written in the apply
/// transaction of the entry that changed it (<see cref="ApplyBatch.SetMeta"/>), so it always matches the consistent
/// index. docs/decisions.md §20 has the table with each value's encoding.
///
/// A backend carries its format in <see cref="Format"/>. Format 1 (every data dir before the key existed) wrote
/// <see cref="RaftTerm"/>, <see cref="ClusterId"/> and <see cref="AuthRevision"/> in the machine's byte order
/// (little-endian on every machine HttpKv ran on) and <see cref="ConfState"/>'s numbers little-endian;
/// <see cref="Open"/> rewrites them in format 2 before anything reads them, and writes the format into a new backend.</summary>
public static class BackendMeta
{
    /// <summary>The format this build writes, and the newest it reads.</summary>
    public const ulong CurrentFormat = 2;

    /// <summary>u64: the backend's format (absent: format 1).</summary>
    public const string Format = "format_version";

    /// <summary>u64: the Raft term of the entry at the consistent index.</summary>
    public const string RaftTerm = "raft_term";
    /// <summary>The Raft configuration at the consistent index (<see cref="ConfStateCodec"/>).</summary>
    public const string ConfState = "conf_state";
    /// <summary>u64: the cluster's ID.</summary>
    public const string ClusterId = "cluster_id";
    /// <summary>The member list (<see cref="Membership.Encode"/>).</summary>
    public const string Members = "members";
    /// <summary>The raised alarms (<see cref="Cluster.Alarms.Encode"/>).</summary>
    public const string Alarms = "alarms";

    /// <summary>One byte: 1 when auth is enabled.</summary>
    public const string AuthEnabled = "auth.enabled";
    /// <summary>u64: the auth store's revision.</summary>
    public const string AuthRevision = "auth.revision";
    /// <summary>+ user name: the user (<c>authpb.User</c>).</summary>
    public const string AuthUserPrefix = "auth.user.";
    /// <summary>+ role name: the role (<c>authpb.Role</c>).</summary>
    public const string AuthRolePrefix = "auth.role.";

    /// <summary>+ the lease ID as 16 hex digits: the lease's ID and TTL (<c>LeaseRecord</c>).</summary>
    public const string LeasePrefix = "lease.";

    public static byte[] Number(ulong value)
    {
        var bytes = new byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>The number stored under <paramref name="name"/>, or null when there is none.</summary>
    public static ulong? ReadNumber(MvccStore store, string name) =>
        store.ReadMeta(name) is { Length: sizeof(ulong) } bytes ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : null;

    /// <summary>Opens the backend file as every part of a member opens it: a backend of an older format is rewritten
    /// in <see cref="CurrentFormat"/> first, and one of a newer format is refused.</summary>
    public static MvccStore Open(string path, MvccOptions options, ILogger logger)
    {
        var store = MvccStore.Open(path, options, logger);
        try
        {
            Upgrade(store, path, logger);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static void Upgrade(MvccStore store, string path, ILogger logger)
    {
        var format = ReadNumber(store, Format) ?? 1;
        if (format == CurrentFormat) return;
        if (format > CurrentFormat)
        {
            throw new InvalidOperationException($"the backend {path} is of format {format}, written by a newer HttpKv; this one reads formats up to {CurrentFormat}");
        }
        var fresh = store.ConsistentIndex == 0 && store.ReadMeta(ClusterId) is null; // a new backend is born in the current format
        using (var batch = store.BeginApply())
        {
            foreach (var name in new[] { RaftTerm, ClusterId, AuthRevision })
            {
                if (store.ReadMeta(name) is { Length: sizeof(ulong) } littleEndian)
                {
                    batch.SetMeta(name, Number(BinaryPrimitives.ReadUInt64LittleEndian(littleEndian)));
                }
            }
            if (store.ReadMeta(ConfState) is { } confState)
            {
                batch.SetMeta(ConfState, ConfStateCodec.Encode(ConfStateCodec.DecodeLittleEndian(confState)));
            }
            batch.SetMeta(Format, Number(CurrentFormat));
            batch.Commit();
        }
        store.Sync();
        if (!fresh) logger.LogInformation("Backend {Path} upgraded from format {From} to {To}", path, format, CurrentFormat);
    }
}
