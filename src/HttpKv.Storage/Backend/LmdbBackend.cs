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
/// <para>Commits do not fsync (NoSync, NoMetaSync): a crash may lose the last commits, never corrupt the file.
/// That is acceptable only because the owner keeps a replayable log (HttpKv's WAL) of everything after
/// the index it stores inside each commit, and replays it on start. Call <see cref="Sync"/> to force
/// the file to disk (before a WAL segment that covers the synced state is released, or before a snapshot).</para>
/// <para>The open LMDB environment is a <see cref="Generation"/>: <see cref="Defragment"/> replaces it with a compacted
/// copy while readers and the writer go on, and a generation is closed only when its last reader is done.</para>
/// </remarks>
public sealed partial class LmdbBackend : IDisposable
{
    /// <summary>LMDB database holding the format marker.</summary>
    internal const string FormatDatabase = "httpkv";
    internal static ReadOnlySpan<byte> FormatKey => "format"u8;
    /// <summary>The format: every value followed by CRC-32C(key ‖ value).</summary>
    internal static ReadOnlySpan<byte> FormatValue => "entry-crc32c-v1"u8;
    /// <summary>Bytes of the checksum after each stored value.</summary>
    public const int ChecksumBytes = 4;

    /// <summary>Suffix of the compacted copy a defragmentation builds beside the file (removed at open if a crash left it).</summary>
    internal const string DefragmentSuffix = ".defrag";

    private readonly string path;
    private readonly BackendOptions options;
    private readonly Dictionary<string, int> ordinals;
    private Generation current;
    // Held from BeginWrite to Commit/Dispose: one writer, and the defragmenter's last step waits for it.
    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly SemaphoreSlim defragmenting = new(1, 1);
    private readonly Lock journalLock = new();
    private DefragmentJournal? journal;
    private int disposed;

    private LmdbBackend(string path, BackendOptions options, Generation generation)
    {
        this.path = path;
        this.options = options;
        current = generation;
        ordinals = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Buckets.Count; i++) ordinals[options.Buckets[i]] = i;
    }

    public string Path => path;

    /// <summary>Opens or creates the LMDB file at <paramref name="path"/> (not a directory; parents are created).
    /// Throws <see cref="BackendCorruptionException"/> when the file is damaged in a way visible without reading every
    /// entry (use <see cref="Verify"/> for that).</summary>
    public static LmdbBackend Open(string path, BackendOptions options)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var parent = System.IO.Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(parent)) Directory.CreateDirectory(parent);
        DeleteUnfinishedDefragment(fullPath);
        var existed = File.Exists(fullPath) && new FileInfo(fullPath).Length > 0;
        return new LmdbBackend(fullPath, options, Generation.Open(fullPath, fullPath, options, checkFormat: true, existed));
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

    public BackendBucket Bucket(string name) => new(ordinals[name], name);

    /// <summary>The bucket names given at open, in order.</summary>
    public IReadOnlyList<string> BucketNames => options.Buckets;

    /// <summary>A consistent snapshot of the last commit. Dispose it promptly: an open reader pins old pages.</summary>
    public BackendReadTransaction BeginRead()
    {
        var generation = AcquireCurrent();
        try
        {
            return new(generation, generation.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly), path);
        }
        catch
        {
            generation.Release();
            throw;
        }
    }

    /// <summary>The single write transaction. LMDB ties it to the calling thread until Commit or Dispose; a second
    /// caller waits until the first is done.</summary>
    public BackendWriteTransaction BeginWrite()
    {
        writeGate.Wait();
        Generation? generation = null;
        try
        {
            generation = AcquireCurrent();
            return new(this, generation, generation.Environment.BeginTransaction(), path, journal is not null);
        }
        catch
        {
            generation?.Release();
            writeGate.Release();
            throw;
        }
    }

    /// <summary>Called by a write transaction when it ends; a committed one hands its changes to a running defragmentation.</summary>
    internal void EndWrite(List<JournalEntry>? committed)
    {
        if (committed is { Count: > 0 })
        {
            lock (journalLock) journal?.Add(committed);
        }
        writeGate.Release();
    }

    private Generation AcquireCurrent()
    {
        while (true)
        {
            var generation = Volatile.Read(ref current);
            if (generation.TryAcquire()) return generation;
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        }
    }

    private T WithCurrent<T>(Func<Generation, T> use)
    {
        var generation = AcquireCurrent();
        try
        {
            return use(generation);
        }
        finally
        {
            generation.Release();
        }
    }

    /// <summary>Forces committed data and metadata to disk.</summary>
    public void Sync() => WithCurrent(generation =>
    {
        generation.Environment.Flush(force: true);
        return 0;
    });

    /// <summary>The file's size as LMDB sees it: every page up to the last one in use (etcd's db size; what the quota
    /// is measured against). Pages freed by deletes stay in the file until <see cref="Defragment"/>.</summary>
    public long Size => WithCurrent(generation => generation.Size);

    /// <summary>The bytes of the pages that hold data: the trees of every bucket and the two meta pages (etcd's
    /// db size in use). The rest of <see cref="Size"/> is free pages LMDB reuses for later writes.</summary>
    public long SizeInUse => WithCurrent(generation => generation.SizeInUse());

    /// <summary>Writes a consistent copy of the whole backend (as of one read transaction) to a new file at
    /// <paramref name="path"/>, compacting free pages away: what a snapshot sent to another member holds.</summary>
    public void CopyTo(string path) => WithCurrent(generation =>
    {
        generation.Environment.CopyTo(path, compact: true).ThrowOnError();
        return 0;
    });

    /// <summary>Closes the backend once no write transaction (nor a defragmentation's last step) is running; the
    /// environment itself closes when its last reader ends.</summary>
    public void Dispose()
    {
        writeGate.Wait();
        try
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            Volatile.Read(ref current).Release();
        }
        finally
        {
            writeGate.Release();
        }
    }

    /// <summary>One open LMDB environment with its databases. Counted: the backend holds one reference while it is
    /// current and every transaction holds one; the environment closes when the count reaches zero.</summary>
    internal sealed class Generation
    {
        private int references = 1;

        private Generation(LightningEnvironment environment, LightningDatabase[] databases, LightningDatabase format)
        {
            Environment = environment;
            PageSize = environment.EnvironmentStats.PageSize;
            Databases = databases;
            Format = format;
        }

        public LightningEnvironment Environment { get; }
        /// <summary>The buckets' databases, by the bucket's ordinal.</summary>
        public LightningDatabase[] Databases { get; }
        public LightningDatabase Format { get; }

        public long Size => ((long)Environment.Info.LastPageNumber + 1) * PageSize;

        /// <summary>The environment's page size, fixed when it opened (read once: the quota check reads the size on
        /// every write).</summary>
        private long PageSize { get; }

        public long SizeInUse()
        {
            var main = Environment.EnvironmentStats;
            long pages = 2 + main.BranchPages + main.LeafPages + main.OverflowPages;
            using var tx = Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
            foreach (var database in Databases.Append(Format))
            {
                var stats = tx.GetStats(database);
                pages += stats.BranchPages + stats.LeafPages + stats.OverflowPages;
            }
            return pages * main.PageSize;
        }

        public bool TryAcquire()
        {
            while (true)
            {
                var seen = Volatile.Read(ref references);
                if (seen == 0) return false;
                if (Interlocked.CompareExchange(ref references, seen + 1, seen) == seen) return true;
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref references) != 0) return;
            foreach (var database in Databases) database.Dispose();
            Format.Dispose();
            Environment.Dispose();
        }

        /// <summary>Applies recorded changes in one write transaction; returns how many.</summary>
        public long Replay(List<JournalEntry> changes)
        {
            if (changes.Count == 0) return 0;
            using var tx = Environment.BeginTransaction();
            foreach (var change in changes)
            {
                var database = Databases[change.Bucket];
                if (change.Value is null)
                {
                    var code = tx.Delete(database, change.Key);
                    if (code != MDBResultCode.NotFound) code.ThrowOnError();
                }
                else
                {
                    PutChecked(tx, database, change.Key, change.Value).ThrowOnError();
                }
            }
            tx.Commit().ThrowOnError();
            return changes.Count;
        }

        /// <summary>Opens the environment at <paramref name="filePath"/>; <paramref name="reportedPath"/> names the file in errors.</summary>
        public static Generation Open(string filePath, string reportedPath, BackendOptions options, bool checkFormat, bool existed)
        {
            var environment = new LightningEnvironment(filePath, new EnvironmentConfiguration
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
                    throw new BackendCorruptionException(reportedPath, $"LMDB cannot open it ({exception.StatusCode}: {exception.Message})", exception);
                }
                CheckLength(environment, filePath, reportedPath);
                var databases = new LightningDatabase[options.Buckets.Count];
                LightningDatabase format;
                try
                {
                    using var tx = environment.BeginTransaction();
                    format = tx.OpenDatabase(FormatDatabase, new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                    for (var i = 0; i < databases.Length; i++)
                    {
                        databases[i] = tx.OpenDatabase(options.Buckets[i], new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                    }
                    if (checkFormat) CheckFormat(tx, format, databases, reportedPath, existed);
                    tx.Commit().ThrowOnError();
                }
                catch (LightningException exception)
                {
                    throw new BackendCorruptionException(reportedPath, $"LMDB reports {exception.Message}", exception);
                }
                return new Generation(environment, databases, format);
            }
            catch
            {
                environment.Dispose();
                throw;
            }
        }

        private static void CheckFormat(LightningTransaction tx, LightningDatabase format, LightningDatabase[] databases, string path, bool existed)
        {
            var (code, _, marker) = tx.Get(format, FormatKey);
            if (code == MDBResultCode.NotFound)
            {
                if (existed && HasEntries(tx, databases))
                {
                    throw new BackendCorruptionException(path,
                        "it holds data but no format marker (written by an HttpKv without entry checksums, or its marker was lost); restore this member from a snapshot or its peers");
                }
                PutChecked(tx, format, FormatKey, FormatValue);
                return;
            }
            code.ThrowOnReadError();
            var stored = CheckedValue(path, FormatDatabase, FormatKey, marker.AsSpan());
            if (!stored.SequenceEqual(FormatValue))
                throw new BackendCorruptionException(path, $"unknown format marker '{System.Text.Encoding.UTF8.GetString(stored)}'");
        }

        /// <summary>A file shorter than its last committed page would make LMDB fault (SIGBUS) on the first read there.</summary>
        private static void CheckLength(LightningEnvironment environment, string filePath, string reportedPath)
        {
            var pageSize = (long)environment.EnvironmentStats.PageSize;
            var needed = ((long)environment.Info.LastPageNumber + 1) * pageSize;
            var length = new FileInfo(filePath).Length;
            if (length < needed)
                throw new BackendCorruptionException(reportedPath, $"it is {length} bytes long but its last committed page ends at byte {needed} (truncated)");
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
    }
}

/// <summary>A handle to one named bucket, valid for the life of the backend (across defragmentations).</summary>
public readonly struct BackendBucket
{
    internal BackendBucket(int ordinal, string name)
    {
        Ordinal = ordinal;
        Name = name;
    }

    internal int Ordinal { get; }
    public string Name { get; }
}

public class BackendReadTransaction : IDisposable
{
    private readonly LmdbBackend.Generation generation;
    private int disposed;

    internal BackendReadTransaction(LmdbBackend.Generation generation, LightningTransaction transaction, string path)
    {
        this.generation = generation;
        Transaction = transaction;
        FilePath = path;
    }

    internal LightningTransaction Transaction { get; }
    internal string FilePath { get; }

    private protected LightningDatabase Database(BackendBucket bucket) => generation.Databases[bucket.Ordinal];

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
        var recorded = Transaction.GetEntriesCount(Database(bucket));
        if (recorded != counted)
            throw new BackendCorruptionException(FilePath, $"bucket '{bucket.Name}' records {recorded} entries but a scan of its pages finds {counted}");
    }

    /// <summary>The value of <paramref name="key"/>; the span is valid until this transaction ends.</summary>
    public bool TryGet(BackendBucket bucket, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        var (code, _, found) = Transaction.Get(Database(bucket), key);
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
        using var cursor = Transaction.CreateCursor(Database(bucket));
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
        using var cursor = Transaction.CreateCursor(Database(bucket));
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
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        Transaction.Dispose();
        generation.Release();
        Ended();
        GC.SuppressFinalize(this);
    }

    private protected virtual void Ended() { }
}

public sealed class BackendWriteTransaction : BackendReadTransaction
{
    private readonly LmdbBackend backend;
    // The changes, kept only while a defragmentation records them (null otherwise: no cost on the normal path).
    private readonly List<JournalEntry>? recorded;
    private bool committed;

    internal BackendWriteTransaction(LmdbBackend backend, LmdbBackend.Generation generation, LightningTransaction transaction, string path, bool record)
        : base(generation, transaction, path)
    {
        this.backend = backend;
        if (record) recorded = [];
    }

    public void Put(BackendBucket bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        LmdbBackend.PutChecked(Transaction, Database(bucket), key, value).ThrowOnError();
        recorded?.Add(new JournalEntry(bucket.Ordinal, key.ToArray(), value.ToArray()));
    }

    /// <summary>Deletes <paramref name="key"/>; false if it was not there.</summary>
    public bool Delete(BackendBucket bucket, ReadOnlySpan<byte> key)
    {
        var code = Transaction.Delete(Database(bucket), key);
        if (code == MDBResultCode.NotFound) return false;
        ThrowOnReadError(code);
        recorded?.Add(new JournalEntry(bucket.Ordinal, key.ToArray(), null));
        return true;
    }

    public void Commit()
    {
        Transaction.Commit().ThrowOnError();
        committed = true;
    }

    private protected override void Ended() => backend.EndWrite(committed ? recorded : null);
}
