using LightningDB;

namespace HttpKv.Storage.Backend;

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
/// Commits do not fsync (NoSync, NoMetaSync): a crash may lose the last commits, never corrupt the file.
/// That is acceptable only because the owner keeps a replayable log (HttpKv's WAL) of everything after
/// the index it stores inside each commit, and replays it on start. Call <see cref="Sync"/> to force
/// the file to disk (before a WAL segment that covers the synced state is released, or before a snapshot).
/// </remarks>
public sealed class LmdbBackend : IDisposable
{
    private readonly LightningEnvironment environment;
    private readonly Dictionary<string, LightningDatabase> buckets;

    private LmdbBackend(LightningEnvironment environment, Dictionary<string, LightningDatabase> buckets)
    {
        this.environment = environment;
        this.buckets = buckets;
    }

    public string Path => environment.Path;

    /// <summary>Opens or creates the LMDB file at <paramref name="path"/> (not a directory; parents are created).</summary>
    public static LmdbBackend Open(string path, BackendOptions options)
    {
        var parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(parent)) Directory.CreateDirectory(parent);
        var environment = new LightningEnvironment(path, new EnvironmentConfiguration
        {
            MapSize = options.MapSizeBytes,
            MaxDatabases = Math.Max(1, options.Buckets.Count),
            MaxReaders = 512,
        });
        try
        {
            // NoSync + NoMetaSync: a commit is not fsynced. Safe ONLY because HttpKv's WAL is fsynced and replays every
            // entry after the consistent index stored in the last commit that reached disk (see the remarks above).
            // NoThreadLocalStorage: read txns belong to the caller, not the thread (async readers hop threads).
            environment.Open(EnvironmentOpenFlags.NoSubDir | EnvironmentOpenFlags.NoSync |
                             EnvironmentOpenFlags.NoMetaSync | EnvironmentOpenFlags.NoThreadLocalStorage);
            var opened = new Dictionary<string, LightningDatabase>(StringComparer.Ordinal);
            using (var tx = environment.BeginTransaction())
            {
                foreach (var name in options.Buckets)
                {
                    opened[name] = tx.OpenDatabase(name, new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                }
                tx.Commit().ThrowOnError();
            }
            return new LmdbBackend(environment, opened);
        }
        catch
        {
            environment.Dispose();
            throw;
        }
    }

    public BackendBucket Bucket(string name) => new(buckets[name]);

    /// <summary>A consistent snapshot of the last commit. Dispose it promptly: an open reader pins old pages.</summary>
    public BackendReadTransaction BeginRead() =>
        new(environment.BeginTransaction(TransactionBeginFlags.ReadOnly));

    /// <summary>The single write transaction. LMDB ties it to the calling thread until Commit or Dispose.</summary>
    public BackendWriteTransaction BeginWrite() => new(environment.BeginTransaction());

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
    internal BackendBucket(LightningDatabase database) => Database = database;
    internal LightningDatabase Database { get; }
}

public class BackendReadTransaction : IDisposable
{
    internal BackendReadTransaction(LightningTransaction transaction) => Transaction = transaction;
    internal LightningTransaction Transaction { get; }

    /// <summary>The value of <paramref name="key"/>; the span is valid until this transaction ends.</summary>
    public bool TryGet(BackendBucket bucket, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        var (code, _, found) = Transaction.Get(bucket.Database, key);
        if (code == MDBResultCode.NotFound)
        {
            value = default;
            return false;
        }
        code.ThrowOnReadError();
        value = found.AsSpan();
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
            current.ThrowOnReadError();
            if (!visitor(key.AsSpan(), value.AsSpan())) return;
            code = cursor.Next().resultCode;
        }
        if (code != MDBResultCode.NotFound) code.ThrowOnReadError();
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
        code.ThrowOnReadError();
        key = lastKey.AsSpan();
        value = lastValue.AsSpan();
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
    internal BackendWriteTransaction(LightningTransaction transaction) : base(transaction) { }

    public void Put(BackendBucket bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        Transaction.Put(bucket.Database, key, value).ThrowOnError();

    /// <summary>Deletes <paramref name="key"/>; false if it was not there.</summary>
    public bool Delete(BackendBucket bucket, ReadOnlySpan<byte> key)
    {
        var code = Transaction.Delete(bucket.Database, key);
        if (code == MDBResultCode.NotFound) return false;
        code.ThrowOnError();
        return true;
    }

    public void Commit() => Transaction.Commit().ThrowOnError();
}
