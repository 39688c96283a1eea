using System.Buffers;
using System.Buffers.Binary;
using HttpKv.Storage.Wal;
using LightningDB;

namespace HttpKv.Storage.Backend;

/// <summary>The backend file is damaged (an entry fails its checksum, the file is shorter than its last committed
/// page, LMDB reports corruption, or the file lacks the checksum format marker): the member must not serve from it.</summary>
public sealed class BackendCorruptionException : Exception
{
    public BackendCorruptionException(string filePath, string reason, Exception? inner = null)
        : base($"backend file '{filePath}' is corrupt: {reason}", inner)
    {
        FilePath = filePath;
    }

    public string FilePath { get; }
}

/// <summary>Options of the backend file. <see cref="Buckets"/> are LMDB named databases, opened (created) at start.</summary>
public sealed record BackendOptions
{
    public long MapSizeBytes { get; init; } = 8L << 30;
    public IReadOnlyList<string> Buckets { get; init; } = [];
}

/// <summary>Visits one entry of a bucket in key order; return false to stop.</summary>
public delegate bool EntryVisitor(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

/// <summary>
/// The backend: one LMDB file (a copy-on-write B+tree, like etcd's bbolt) holding named buckets of
/// byte keys and byte values, ordered bytewise. It knows nothing about what the keys mean.
/// One writer at a time (<see cref="BeginWrite"/>); any number of concurrent snapshot readers
/// (<see cref="BeginRead"/>), which never block the writer and may be used from any thread.
/// </summary>
/// <remarks>
/// <para>Every stored value carries a CRC-32C of its key and value (4 bytes, little-endian, after the value): LMDB
/// has no page checksums, so this is what detects a flipped bit in a key or a value. Every read checks it and
/// throws <see cref="BackendCorruptionException"/> on a mismatch; <see cref="Verify"/> checks a whole bucket (the MVCC
/// store verifies every bucket at open). Callers see the value without the checksum. A marker entry in the
/// <c>httpkv</c> database records the format; a file without it (a build before checksums) is refused.</para>
/// <para>Open also refuses a file shorter than its last committed page (a truncated file would otherwise fault
/// on first access) and turns LMDB's MDB_INVALID / MDB_CORRUPTED / MDB_PAGE_NOTFOUND into the same exception.</para>
/// Commits do not fsync (NoSync, NoMetaSync): a crash may lose the last commits, never corrupt the file.
/// That is acceptable only because the owner keeps a replayable log (HttpKv's WAL) of everything after
/// the index it stores inside each commit, and replays it on start. Call <see cref="Sync"/> to force
/// the file to disk (before a WAL segment that covers the synced state is released, or before a snapshot).
/// </remarks>
public sealed class LmdbBackend : IDisposable
{
    /// <summary>LMDB database holding the format marker.</summary>
    internal const string FormatDatabase = "httpkv";
    internal static ReadOnlySpan<byte> FormatKey => "format"u8;
    /// <summary>The format: every value followed by CRC-32C(key ‖ value).</summary>
    internal static ReadOnlySpan<byte> FormatValue => "entry-crc32c-v1"u8;
    /// <summary>Bytes of the checksum after each stored value.</summary>
    public const int ChecksumBytes = 4;

    private readonly LightningEnvironment environment;
    private readonly Dictionary<string, LightningDatabase> buckets;

    private LmdbBackend(LightningEnvironment environment, Dictionary<string, LightningDatabase> buckets)
    {
        this.environment = environment;
        this.buckets = buckets;
    }

    public string Path => environment.Path;

    /// <summary>Opens or creates the LMDB file at <paramref name="path"/> (not a directory; parents are created).
    /// Throws <see cref="BackendCorruptionException"/> when the file is damaged in a way visible without reading every
    /// entry (use <see cref="Verify"/> for that).</summary>
    public static LmdbBackend Open(string path, BackendOptions options)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var parent = System.IO.Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(parent)) Directory.CreateDirectory(parent);
        var existed = File.Exists(fullPath) && new FileInfo(fullPath).Length > 0;
        var environment = new LightningEnvironment(path, new EnvironmentConfiguration
        {
            MapSize = options.MapSizeBytes,
            MaxDatabases = options.Buckets.Count + 1,
            MaxReaders = 512,
        });
        try
        {
            // NoSync + NoMetaSync: a commit is not fsynced. Safe ONLY because HttpKv's WAL is fsynced and replays every
            // entry after the consistent index stored in the last commit that reached disk (see the remarks above).
            // NoThreadLocalStorage: read txns belong to the caller, not the thread (async readers hop threads).
            try
            {
                environment.Open(EnvironmentOpenFlags.NoSubDir | EnvironmentOpenFlags.NoSync |
                                 EnvironmentOpenFlags.NoMetaSync | EnvironmentOpenFlags.NoThreadLocalStorage);
            }
            catch (LightningException exception)
            {
                throw new BackendCorruptionException(fullPath, $"LMDB cannot open it ({exception.StatusCode}: {exception.Message})", exception);
            }
            CheckLength(environment, fullPath);
            var opened = new Dictionary<string, LightningDatabase>(StringComparer.Ordinal);
            try
            {
                using var tx = environment.BeginTransaction();
                var format = tx.OpenDatabase(FormatDatabase, new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                foreach (var name in options.Buckets)
                {
                    opened[name] = tx.OpenDatabase(name, new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                }
                var (code, _, marker) = tx.Get(format, FormatKey);
                if (code == MDBResultCode.NotFound)
                {
                    if (existed && HasEntries(tx, opened.Values))
                    {
                        throw new BackendCorruptionException(fullPath,
                            "it holds data but no format marker (written by an HttpKv without entry checksums, or its marker was lost); restore this member from a snapshot or its peers");
                    }
                    PutChecked(tx, format, FormatKey, FormatValue);
                }
                else
                {
                    code.ThrowOnReadError();
                    var stored = CheckedValue(fullPath, FormatDatabase, FormatKey, marker.AsSpan());
                    if (!stored.SequenceEqual(FormatValue))
                        throw new BackendCorruptionException(fullPath, $"unknown format marker '{System.Text.Encoding.UTF8.GetString(stored)}'");
                }
                tx.Commit().ThrowOnError();
            }
            catch (LightningException exception)
            {
                throw new BackendCorruptionException(fullPath, $"LMDB reports {exception.Message}", exception);
            }
            return new LmdbBackend(environment, opened);
        }
        catch
        {
            environment.Dispose();
            throw;
        }
    }

    /// <summary>A file shorter than its last committed page would make LMDB fault (SIGBUS) on the first read there.</summary>
    private static void CheckLength(LightningEnvironment environment, string path)
    {
        var pageSize = (long)environment.EnvironmentStats.PageSize;
        var needed = ((long)environment.Info.LastPageNumber + 1) * pageSize;
        var length = new FileInfo(path).Length;
        if (length < needed)
            throw new BackendCorruptionException(path, $"it is {length} bytes long but its last committed page ends at byte {needed} (truncated)");
    }

    private static bool HasEntries(LightningTransaction tx, IEnumerable<LightningDatabase> databases)
    {
        foreach (var database in databases)
        {
            using var cursor = tx.CreateCursor(database);
            if (cursor.First().resultCode == MDBResultCode.Success) return true;
        }
        return false;
    }

    /// <summary>Stores <paramref name="value"/> followed by CRC-32C(key ‖ value).</summary>
    internal static MDBResultCode PutChecked(LightningTransaction tx, LightningDatabase database, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var length = value.Length + ChecksumBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            value.CopyTo(buffer);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(value.Length), Crc32C.Append(Crc32C.Compute(key), value));
            return tx.Put(database, key, buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The value of a stored entry without its checksum; throws when the checksum does not match.</summary>
    internal static ReadOnlySpan<byte> CheckedValue(string path, string bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> stored)
    {
        if (stored.Length < ChecksumBytes)
            throw new BackendCorruptionException(path, $"entry {Convert.ToHexString(key)} of bucket '{bucket}' is {stored.Length} bytes, too short for its checksum");
        var value = stored[..^ChecksumBytes];
        if (Crc32C.Append(Crc32C.Compute(key), value) != BinaryPrimitives.ReadUInt32LittleEndian(stored[^ChecksumBytes..]))
            throw new BackendCorruptionException(path, $"entry {Convert.ToHexString(key)} of bucket '{bucket}' fails its checksum");
        return value;
    }

    /// <summary>Reads every entry of <paramref name="bucket"/> and checks its checksum (and LMDB's page structure on
    /// the way); returns how many entries it read. Throws <see cref="BackendCorruptionException"/>.</summary>
    public long Verify(BackendBucket bucket)
    {
        using var read = BeginRead();
        long count = 0;
        read.Scan(bucket, default, (_, _) =>
        {
            count++;
            return true;
        });
        read.CheckEntryCount(bucket, count);
        return count;
    }

    public BackendBucket Bucket(string name) => new(buckets[name], name);

    /// <summary>A consistent snapshot of the last commit. Dispose it promptly: an open reader pins old pages.</summary>
    public BackendReadTransaction BeginRead() =>
        new(environment.BeginTransaction(TransactionBeginFlags.ReadOnly), Path);

    /// <summary>The single write transaction. LMDB ties it to the calling thread until Commit or Dispose.</summary>
    public BackendWriteTransaction BeginWrite() => new(environment.BeginTransaction(), Path);

    /// <summary>Forces committed data and metadata to disk.</summary>
    public void Sync() => environment.Flush(force: true);

    /// <summary>Writes a consistent copy of the whole backend (as of one read transaction) to a new file at
    /// <paramref name="path"/>, compacting free pages away: what a snapshot sent to another member holds.</summary>
    public void CopyTo(string path) => environment.CopyTo(path, compact: true).ThrowOnError();

    public void Dispose()
    {
        foreach (var bucket in buckets.Values) bucket.Dispose();
        environment.Dispose();
    }
}

/// <summary>A handle to one named bucket, valid for the life of the backend.</summary>
public readonly struct BackendBucket
{
    internal BackendBucket(LightningDatabase database, string name)
    {
        Database = database;
        Name = name;
    }

    internal LightningDatabase Database { get; }
    public string Name { get; }
}

public class BackendReadTransaction : IDisposable
{
    internal BackendReadTransaction(LightningTransaction transaction, string path)
    {
        Transaction = transaction;
        FilePath = path;
    }

    internal LightningTransaction Transaction { get; }
    internal string FilePath { get; }

    /// <summary>LMDB's structural errors (a damaged page found on the way) as the backend's corruption error.</summary>
    private protected void ThrowOnReadError(MDBResultCode code)
    {
        if (code is MDBResultCode.Corrupted or MDBResultCode.PageNotFound or MDBResultCode.Invalid)
            throw new BackendCorruptionException(FilePath, $"LMDB reports {code}");
        code.ThrowOnReadError();
    }

    /// <summary>Throws unless a full scan that found <paramref name="counted"/> entries agrees with the entry count
    /// LMDB keeps for the bucket: a damaged page header (its entry count cut short) would otherwise hide entries
    /// from every scan without failing any checksum.</summary>
    public void CheckEntryCount(BackendBucket bucket, long counted)
    {
        var recorded = Transaction.GetEntriesCount(bucket.Database);
        if (recorded != counted)
            throw new BackendCorruptionException(FilePath, $"bucket '{bucket.Name}' records {recorded} entries but a scan of its pages finds {counted}");
    }

    /// <summary>The value of <paramref name="key"/>; the span is valid until this transaction ends.</summary>
    public bool TryGet(BackendBucket bucket, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        var (code, _, found) = Transaction.Get(bucket.Database, key);
        if (code == MDBResultCode.NotFound)
        {
            value = default;
            return false;
        }
        ThrowOnReadError(code);
        value = LmdbBackend.CheckedValue(FilePath, bucket.Name, key, found.AsSpan());
        return true;
    }

    /// <summary>Visits entries with key ≥ <paramref name="from"/> in key order until the visitor returns false.</summary>
    public void Scan(BackendBucket bucket, ReadOnlySpan<byte> from, EntryVisitor visitor)
    {
        using var cursor = Transaction.CreateCursor(bucket.Database);
        var code = from.IsEmpty ? cursor.First().resultCode : cursor.SetRange(from);
        while (code == MDBResultCode.Success)
        {
            var (current, key, value) = cursor.GetCurrent();
            ThrowOnReadError(current);
            if (!visitor(key.AsSpan(), LmdbBackend.CheckedValue(FilePath, bucket.Name, key.AsSpan(), value.AsSpan()))) return;
            code = cursor.Next().resultCode;
        }
        if (code != MDBResultCode.NotFound) ThrowOnReadError(code);
    }

    /// <summary>The last entry of the bucket, if any.</summary>
    public bool TryGetLast(BackendBucket bucket, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        using var cursor = Transaction.CreateCursor(bucket.Database);
        var (code, lastKey, lastValue) = cursor.Last();
        if (code == MDBResultCode.NotFound)
        {
            key = default;
            value = default;
            return false;
        }
        ThrowOnReadError(code);
        key = lastKey.AsSpan();
        value = LmdbBackend.CheckedValue(FilePath, bucket.Name, key, lastValue.AsSpan());
        return true;
    }

    public void Dispose()
    {
        Transaction.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed class BackendWriteTransaction : BackendReadTransaction
{
    internal BackendWriteTransaction(LightningTransaction transaction, string path) : base(transaction, path) { }

    public void Put(BackendBucket bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        LmdbBackend.PutChecked(Transaction, bucket.Database, key, value).ThrowOnError();

    /// <summary>Deletes <paramref name="key"/>; false if it was not there.</summary>
    public bool Delete(BackendBucket bucket, ReadOnlySpan<byte> key)
    {
        var code = Transaction.Delete(bucket.Database, key);
        if (code == MDBResultCode.NotFound) return false;
        ThrowOnReadError(code);
        return true;
    }

    public void Commit() => Transaction.Commit().ThrowOnError();
}
