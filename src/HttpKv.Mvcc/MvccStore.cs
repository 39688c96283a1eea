using System.Buffers;
using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Storage.Backend;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;
using Mvccpb;

namespace HttpKv.Mvcc;

public sealed record MvccOptions
{
    public long MapSizeBytes { get; init; } = 8L << 30;
}

/// <summary>
/// etcd's multi-version key-value store: every change gets a revision, old revisions stay readable until compacted.
/// </summary>
/// <remarks>
/// Persisted buckets (one LMDB file):
/// <code>
///   bucket  key                                        value
///   key     8-byte BE main '_' 8-byte BE sub [+ 't']    mvccpb.KeyValue (a tombstone, marked 't', holds only the key)
///   meta    "consistent_index"                         8-byte BE index of the last applied log entry
///   meta    "finishedCompactRev"                       8-byte BE revision of the last compaction
/// </code>
/// The key index (<see cref="TreeIndex"/>) lives only in memory and is rebuilt from the key bucket on open.
/// Readers (<see cref="Range"/>) run concurrently with the single writer (<see cref="BeginApply"/>): they read
/// the published revision and open a backend snapshot under the index's read lock, and the writer commits
/// and publishes under its write lock, so a reader sees a whole batch or none of it.
/// </remarks>
public sealed class MvccStore : IDisposable
{
    internal const string KeyBucketName = "key";
    internal const string MetaBucketName = "meta";
    internal static ReadOnlySpan<byte> ConsistentIndexKey => "consistent_index"u8;
    internal static ReadOnlySpan<byte> FinishedCompactKey => "finishedCompactRev"u8;

    private readonly ILogger logger;
    private volatile StoreState state;
    private int batchOpen;

    private MvccStore(LmdbBackend backend, TreeIndex index, StoreState state, ILogger logger)
    {
        Backend = backend;
        Index = index;
        this.state = state;
        this.logger = logger;
        KeyBucket = backend.Bucket(KeyBucketName);
        MetaBucket = backend.Bucket(MetaBucketName);
    }

    internal LmdbBackend Backend { get; }
    internal TreeIndex Index { get; }
    internal BackendBucket KeyBucket { get; }
    internal BackendBucket MetaBucket { get; }
    internal StoreState State => state;

    /// <summary>Index of the last applied log entry, committed in the same backend transaction as its data.</summary>
    public ulong ConsistentIndex => state.ConsistentIndex;

    /// <summary>The newest committed revision; 1 on a new store, as in etcd.</summary>
    public long CurrentRevision => state.Revision;

    /// <summary>Keys in the key index, deleted ones included until compaction removes them (etcd's keys_total gauge).</summary>
    public int KeyCount
    {
        get
        {
            Index.Lock.EnterReadLock();
            try { return Index.Count; }
            finally { Index.Lock.ExitReadLock(); }
        }
    }

    /// <summary>The revision of the last compaction (0 if none).</summary>
    public long CompactedRevision => Math.Max(0, state.CompactedRevision);

    /// <summary>Opens (or creates) the backend file at <paramref name="backendPath"/> and rebuilds the key index.</summary>
    public static MvccStore Open(string backendPath, MvccOptions options, ILogger logger)
    {
        var backend = LmdbBackend.Open(backendPath, new BackendOptions
        {
            MapSizeBytes = options.MapSizeBytes,
            Buckets = [KeyBucketName, MetaBucketName],
        });
        try
        {
            var index = new TreeIndex();
            StoreState restored;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            // Every entry's checksum is checked here: Restore reads the whole key bucket, Verify the meta bucket.
            backend.Verify(backend.Bucket(MetaBucketName));
            using (var read = backend.BeginRead())
            {
                restored = Restore(read, backend.Bucket(KeyBucketName), backend.Bucket(MetaBucketName), index, logger);
            }
            logger.LogInformation("mvcc store checked every entry of {Path} in {Elapsed:F0} ms", backendPath,
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            logger.LogInformation("mvcc store opened at {Path}: revision {Revision}, compacted {Compacted}, consistent index {Index}, {Keys} keys",
                backendPath, restored.Revision, restored.CompactedRevision, restored.ConsistentIndex, index.Count);
            return new MvccStore(backend, index, restored, logger);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    private static StoreState Restore(BackendReadTransaction read, BackendBucket keys, BackendBucket meta, TreeIndex index, ILogger logger)
    {
        ulong consistentIndex = read.TryGet(meta, ConsistentIndexKey, out var indexBytes) ? BinaryPrimitives.ReadUInt64BigEndian(indexBytes) : 0;
        var compacted = read.TryGet(meta, FinishedCompactKey, out var compactBytes) ? BinaryPrimitives.ReadInt64BigEndian(compactBytes) : -1;
        long revision = 1;
        long entries = 0;
        read.Scan(keys, default, (key, value) =>
        {
            entries++;
            var at = Revision.Decode(key, out var tombstone);
            var kv = StoredKeyValue.Read(value);
            revision = Math.Max(revision, at.Main);
            if (!tombstone)
            {
                index.GetOrAdd(kv.Key.ToArray()).Put(at, kv.CreateRevision, kv.Version);
            }
            else if (index.Find(kv.Key.ToArray()) is not { } existing || !existing.Tombstone(at))
            {
                logger.LogWarning("tombstone at {Revision} for a key with no live revision; ignored", at);
            }
            return true;
        });
        read.CheckEntryCount(keys, entries);
        return new StoreState(Math.Max(revision, compacted), compacted, consistentIndex);
    }

    /// <summary>Reads keys at the current or a given revision; safe to call concurrently with an apply batch.
    /// Throws <see cref="EtcdException"/> (Compacted, FutureRevision). The header carries only the store's revision the
    /// read saw (the rest is the server's): read afterwards, a write applied meanwhile would put a revision on the
    /// answer that its data does not show.</summary>
    public RangeResponse Range(RangeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        RangePlan plan;
        BackendReadTransaction read;
        long revision;
        Index.Lock.EnterReadLock();
        try
        {
            var current = state;
            revision = current.Revision;
            plan = RangeQuery.Plan(Index, request, current.Revision, current.CompactedRevision);
            read = Backend.BeginRead();
        }
        finally
        {
            Index.Lock.ExitReadLock();
        }
        using (read)
        {
            var response = RangeQuery.Execute(plan, request, new BackendValues(read, KeyBucket));
            response.Header = new ResponseHeader { Revision = revision };
            return response;
        }
    }

    /// <summary>Every revision of <paramref name="key"/> the store still holds (compaction removes the older ones), oldest
    /// first: a put with its KeyValue, or a delete (Kv holds the key and the delete's mod_revision only, as a watch
    /// event's). At most <paramref name="limit"/> of the newest. Empty when the key never existed or all is compacted.</summary>
    public (IReadOnlyList<Mvccpb.Event> Versions, long Revision, long CompactedRevision) History(ReadOnlyMemory<byte> key, int limit)
    {
        List<(Revision Revision, bool Tombstone)> revisions;
        BackendReadTransaction read;
        StoreState current;
        Index.Lock.EnterReadLock();
        try
        {
            current = state;
            var found = Index.Find(key);
            revisions = found is null ? [] : [.. found.History()];
            read = Backend.BeginRead();
        }
        finally
        {
            Index.Lock.ExitReadLock();
        }
        using (read)
        {
            var values = new BackendValues(read, KeyBucket);
            var versions = new List<Mvccpb.Event>();
            foreach (var (revision, tombstone) in revisions.Skip(Math.Max(0, revisions.Count - limit)))
            {
                versions.Add(tombstone
                    ? new Mvccpb.Event { Type = Mvccpb.Event.Types.EventType.Delete, Kv = new KeyValue { Key = ByteString.CopyFrom(key.Span), ModRevision = revision.Main } }
                    : new Mvccpb.Event { Type = Mvccpb.Event.Types.EventType.Put, Kv = values.Load(revision) });
            }
            return (versions, current.Revision, Math.Max(0, current.CompactedRevision));
        }
    }

    /// <summary>The changes committed from revision <paramref name="fromRevision"/> on, in revision order, as watchers
    /// receive them (a PUT with its KeyValue, a DELETE with the key and its mod_revision); at most about
    /// <paramref name="maxEvents"/> of them and <paramref name="maxBytes"/> of stored key-values: the reading stops
    /// before a revision whose first change would go past either limit, but never splits one revision (so only a
    /// single revision larger than the limit makes a larger chunk). <c>Through</c> is the revision up to which
    /// every change has been returned. Throws Compacted when <paramref name="fromRevision"/> is at or below the
    /// compacted revision. Safe to call concurrently with an apply batch.</summary>
    public (IReadOnlyList<Mvccpb.Event> Events, long Through) ReadEvents(long fromRevision, int maxEvents, long maxBytes = long.MaxValue)
    {
        StoreState current;
        BackendReadTransaction read;
        Index.Lock.EnterReadLock();
        try
        {
            current = state;
            read = Backend.BeginRead();
        }
        finally
        {
            Index.Lock.ExitReadLock();
        }
        using (read)
        {
            if (fromRevision <= current.CompactedRevision) throw EtcdErrors.Compacted.ToException();
            var events = new List<Mvccpb.Event>();
            var bytes = 0L;
            var through = Math.Max(current.Revision, fromRevision - 1);
            if (fromRevision > current.Revision) return (events, through);
            Span<byte> from = stackalloc byte[Revision.EncodedLength];
            new Revision(fromRevision, 0).Encode(from);
            read.Scan(KeyBucket, from, (key, value) =>
            {
                var at = Revision.Decode(key, out var tombstone);
                if (at.Main > current.Revision) return false;
                if (events.Count > 0 && at.Main != events[^1].Kv.ModRevision && (events.Count >= maxEvents || bytes + value.Length > maxBytes))
                {
                    through = events[^1].Kv.ModRevision;
                    return false;
                }
                var kv = KeyValue.Parser.ParseFrom(value);
                bytes += value.Length;
                events.Add(tombstone
                    ? new Mvccpb.Event { Type = Mvccpb.Event.Types.EventType.Delete, Kv = new KeyValue { Key = kv.Key, ModRevision = at.Main } }
                    : new Mvccpb.Event { Type = Mvccpb.Event.Types.EventType.Put, Kv = kv });
                return true;
            });
            return (events, through);
        }
    }

    /// <summary>Starts the batch of the single writer (the apply loop). Only one batch may be open at a time.</summary>
    public ApplyBatch BeginApply()
    {
        if (Interlocked.Exchange(ref batchOpen, 1) != 0) throw new InvalidOperationException("an apply batch is already open");
        return new ApplyBatch(this, state, Backend.BeginRead(), Interlocked.Exchange(ref batchCollections, null) ?? new ApplyBatch.Collections());
    }

    internal void Publish(StoreState next) => state = next;

    internal void EndBatch(ApplyBatch.Collections collections)
    {
        if (collections.TryReset()) Volatile.Write(ref batchCollections, collections);
        Volatile.Write(ref batchOpen, 0);
    }

    /// <summary>The last batch's collections, for the next one (see <see cref="ApplyBatch.Collections"/>).</summary>
    private ApplyBatch.Collections? batchCollections;

    /// <summary>A value another part of the member keeps in the backend's meta bucket beside the store's own
    /// (e.g. the Raft term and membership at the consistent index), or null. See <see cref="ApplyBatch.SetMeta"/>.</summary>
    public byte[]? ReadMeta(string name)
    {
        using var read = Backend.BeginRead();
        return read.TryGet(MetaBucket, System.Text.Encoding.UTF8.GetBytes(ExtraMetaPrefix + name), out var value) ? value.ToArray() : null;
    }

    /// <summary>Every meta value whose name starts with <paramref name="prefix"/>, in name order (see <see cref="ReadMeta"/>).</summary>
    public IReadOnlyList<(string Name, byte[] Value)> ReadMetaPrefix(string prefix)
    {
        var found = new List<(string, byte[])>();
        var start = System.Text.Encoding.UTF8.GetBytes(ExtraMetaPrefix + prefix);
        using var read = Backend.BeginRead();
        read.Scan(MetaBucket, start, (key, value) =>
        {
            if (!key.StartsWith(start)) return false;
            found.Add((System.Text.Encoding.UTF8.GetString(key[ExtraMetaPrefix.Length..]), value.ToArray()));
            return true;
        });
        return found;
    }

    /// <summary>Writes a consistent copy of the backend to a new file: the data of a snapshot for another member.</summary>
    public void CopyTo(string path) => Backend.CopyTo(path);

    /// <summary>The backend file's size (etcd's dbSize, what the quota measures).</summary>
    public long Size => Backend.Size;

    /// <summary>The part of <see cref="Size"/> holding data (etcd's dbSizeInUse).</summary>
    public long SizeInUse => Backend.SizeInUse;

    /// <summary>Rewrites the backend file without its free pages while reads and writes go on (see
    /// <see cref="LmdbBackend.Defragment"/>); the key index is untouched, as the data is the same.</summary>
    public DefragmentResult Defragment(DefragmentLimits? limits = null) => Backend.Defragment(limits);

    /// <summary>etcd's Hash (meant for tests): CRC-32C over every bucket's name, keys and values, leaving out the
    /// consistent index (the one value that differs between members holding the same data).</summary>
    public uint Hash() => HashBuckets(skipConsistentIndex: true).Hash;

    /// <summary>CRC-32C (Castagnoli, as etcd's) over each bucket's name followed by its keys and values, buckets in name
    /// order as bbolt iterates them, in one read transaction; every entry's checksum is checked on the way and each
    /// bucket's entry count against LMDB's. <c>Entries</c> counts every entry read (skipped ones included).</summary>
    internal (uint Hash, long Entries) HashBuckets(bool skipConsistentIndex)
    {
        using var read = Backend.BeginRead();
        uint hash = 0;
        long total = 0;
        foreach (var bucket in Backend.BucketNames.Order(StringComparer.Ordinal).Select(Backend.Bucket))
        {
            hash = Crc32C.Append(hash, System.Text.Encoding.UTF8.GetBytes(bucket.Name));
            var skipIndex = skipConsistentIndex && bucket.Name == MetaBucketName;
            long entries = 0;
            read.Scan(bucket, default, (key, value) =>
            {
                entries++;
                if (!skipIndex || !key.SequenceEqual(ConsistentIndexKey)) hash = Crc32C.Append(Crc32C.Append(hash, key), value);
                return true;
            });
            read.CheckEntryCount(bucket, entries);
            total += entries;
        }
        return (hash, total);
    }

    internal const string ExtraMetaPrefix = "x.";

    /// <summary>Forces the backend to disk (commits are lazy: see <see cref="LmdbBackend"/>).</summary>
    public void Sync() => Backend.Sync();

    /// <summary>etcd's HashKV: CRC-32C over the "key" bucket's entries up to <paramref name="revision"/> (0 = current),
    /// skipping compacted-away revisions. <paramref name="compactRevision"/> is the store's compacted revision.</summary>
    public uint HashKv(long revision, out long compactRevision)
    {
        var current = state;
        BackendReadTransaction read;
        var keep = new HashSet<Revision>();
        Index.Lock.EnterReadLock();
        try
        {
            current = state;
            compactRevision = current.CompactedRevision;
            if (revision > 0 && revision > current.Revision) throw EtcdErrors.FutureRevision.ToException();
            if (revision > 0 && revision < current.CompactedRevision) throw EtcdErrors.Compacted.ToException();
            if (revision <= 0) revision = current.Revision;
            foreach (var keyIndex in Index.All()) keyIndex.CollectKept(revision, keep);
            read = Backend.BeginRead();
        }
        finally
        {
            Index.Lock.ExitReadLock();
        }
        using (read)
        {
            var hash = Crc32C.Append(0, "key"u8);
            var upper = revision;
            var lowerMain = current.CompactedRevision + 1;
            read.Scan(KeyBucket, default, (key, value) =>
            {
                var at = Revision.Decode(key, out _);
                if (at.Main > upper) return false;
                if (at.Main < lowerMain && keep.Count > 0 && !keep.Contains(at)) return true;
                hash = Crc32C.Append(Crc32C.Append(hash, key), value);
                return true;
            });
            return hash;
        }
    }

    public void Dispose()
    {
        Index.Lock.EnterWriteLock();
        try
        {
            Backend.Sync(); // a clean shutdown leaves nothing for the WAL to replay
            Backend.Dispose();
        }
        finally
        {
            Index.Lock.ExitWriteLock();
        }
        logger.LogDebug("mvcc store closed at revision {Revision}", state.Revision);
    }
}

/// <summary>What readers may see: the last committed revision, compaction and log index.</summary>
internal sealed record StoreState(long Revision, long CompactedRevision, ulong ConsistentIndex);

/// <summary>Reads committed KeyValues from a backend snapshot.</summary>
internal sealed class BackendValues(BackendReadTransaction read, BackendBucket keys) : IValueSource
{
    public KeyValue Load(Revision revision)
    {
        Span<byte> key = stackalloc byte[Revision.EncodedLength];
        revision.Encode(key);
        if (!read.TryGet(keys, key, out var value))
        {
            throw new InvalidOperationException($"the key index names revision {revision}, which the backend does not hold");
        }
        return KeyValue.Parser.ParseFrom(value);
    }

    public static void Write(BackendWriteTransaction write, BackendBucket keys, Revision revision, bool tombstone, KeyValue kv)
    {
        Span<byte> key = stackalloc byte[Revision.TombstoneEncodedLength];
        var keyLength = revision.Encode(key, tombstone);
        var size = kv.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            kv.WriteTo(buffer.AsSpan(0, size));
            write.Put(keys, key[..keyLength], buffer.AsSpan(0, size));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
