using System.Security.Cryptography;
using HttpKv.Mvcc;
using HttpKv.Storage.Backend;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Server.Maintenance;

/// <summary>A snapshot file that cannot be used: damaged, truncated, or not a snapshot. The message says which.</summary>
public sealed class SnapshotFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Progress of a long copy: bytes done of the total, and the percentage.</summary>
public delegate void CopyProgress(int percent, long done, long total);

/// <summary>The file <c>etcdctl snapshot save</c> writes from a member's snapshot stream: the backend database,
/// followed by the SHA-256 of the database (32 bytes) when the member sent one, as etcd 3.5 and HttpKv do.</summary>
public static class SnapshotFile
{
    public const int Sha256Bytes = 32;

    /// <summary>etcd's rule (etcdutl's hasChecksum): a database is a whole number of 512-byte sectors, so a file
    /// 32 bytes past a multiple of 512 carries its digest. A file cut anywhere else has none, and is then refused by
    /// <c>restore</c> unless --skip-hash-check (as etcd), and by the backend's length check in any case.</summary>
    public static bool HasHash(long length) => length % 512 == Sha256Bytes;

    /// <summary>Copies the database part of <paramref name="snapshot"/> to <paramref name="destination"/> (a new file)
    /// while computing its SHA-256, and checks it against the trailing digest. Returns the database's length and whether
    /// the file carried a digest. Throws <see cref="SnapshotFileException"/> when the digest does not match, or when
    /// there is none and <paramref name="requireHash"/>.</summary>
    public static async Task<(long Length, bool Hashed)> CopyVerifiedAsync(string snapshot, string destination, bool requireHash, bool skipHashCheck,
        CopyProgress? progress, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(snapshot)) throw new SnapshotFileException($"snapshot file '{snapshot}' does not exist");
        await using var input = new FileStream(snapshot, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var hashed = HasHash(input.Length);
        if (!hashed && requireHash && !skipHashCheck)
        {
            throw new SnapshotFileException(
                $"snapshot file '{snapshot}' has no SHA-256 digest at its end ({input.Length} bytes is not a multiple of 512 plus 32): it is truncated, " +
                "or not a file written by `etcdctl snapshot save`; a database copied from a data dir (member/snap/db) can be restored with --skip-hash-check");
        }
        var length = hashed ? input.Length - Sha256Bytes : input.Length;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var reporter = new SnapshotProgress(length, SnapshotServer.ProgressThresholdBytes);
        await using (var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 20];
            long done = 0;
            while (done < length)
            {
                var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), cancellationToken);
                if (read == 0) throw new SnapshotFileException($"snapshot file '{snapshot}' ended early while being read");
                sha.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                done += read;
                if (progress is not null && reporter.Report(done) is { } percent) progress(percent, done, length);
            }
            await output.FlushAsync(cancellationToken);
            output.Flush(flushToDisk: true);
        }
        if (hashed && !skipHashCheck)
        {
            var expected = new byte[Sha256Bytes];
            await input.ReadExactlyAsync(expected, cancellationToken);
            var actual = sha.GetHashAndReset();
            if (!CryptographicOperations.FixedTimeEquals(expected, actual))
            {
                throw new SnapshotFileException(
                    $"snapshot file '{snapshot}' failed its integrity check: expected sha256 {Convert.ToHexStringLower(expected)}, got {Convert.ToHexStringLower(actual)} " +
                    "(the file is damaged or truncated)");
            }
        }
        return (length, hashed);
    }

    /// <summary>Opens a database file (checking every entry's checksum and the file's length), as a member would at start;
    /// a damaged one is reported as a <see cref="SnapshotFileException"/> naming the snapshot. With
    /// <paramref name="upgrade"/> (a restore, which makes a member's backend of it) an older format is rewritten in the
    /// current one; without (status) the database is read as it was taken.</summary>
    public static MvccStore OpenDatabase(string snapshot, string database, bool upgrade)
    {
        try
        {
            return upgrade ? BackendMeta.Open(database, new MvccOptions(), NullLogger.Instance) : MvccStore.Open(database, new MvccOptions(), NullLogger.Instance);
        }
        catch (BackendCorruptionException exception)
        {
            throw new SnapshotFileException($"snapshot file '{snapshot}' holds a damaged database: {ShortReason(exception, database)}", exception);
        }
        catch (Exception exception) when (exception is InvalidOperationException or Google.Protobuf.InvalidProtocolBufferException or ArgumentException)
        {
            throw new SnapshotFileException($"snapshot file '{snapshot}' holds a damaged database: {exception.Message}", exception);
        }
    }

    private static string ShortReason(BackendCorruptionException exception, string database) =>
        exception.Message.Replace($"backend file '{exception.FilePath}' is corrupt: ", "", StringComparison.Ordinal).Replace(database, "the database", StringComparison.Ordinal);

    /// <summary>What <c>snapshot status</c> prints: checks the digest (when the file has one) and every entry, on a
    /// temporary copy (opening the database in place would create a lock file beside it).</summary>
    public static async Task<SnapshotStatus> StatusAsync(string snapshot, CopyProgress? progress, CancellationToken cancellationToken = default)
    {
        var directory = Directory.CreateTempSubdirectory("httpkv-snapshot-status-");
        try
        {
            var database = Path.Combine(directory.FullName, "db");
            var (length, _) = await CopyVerifiedAsync(snapshot, database, requireHash: false, skipHashCheck: false, progress, cancellationToken);
            using var store = OpenDatabase(snapshot, database, upgrade: false); // its hash and key count as taken
            var summary = store.Summarize();
            return new SnapshotStatus(summary.Hash, summary.Revision, summary.TotalKeys, length);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}

/// <summary>etcd's snapshot status fields (etcdctl's JSON names: hash, revision, totalKey, totalSize).</summary>
public sealed record SnapshotStatus(uint Hash, long Revision, long TotalKey, long TotalSize);
