using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Storage;
using HttpKv.Storage.Backend;
using Mvccpb;

namespace HttpKv.Mvcc;

/// <summary>
/// The writer's batch: applies log entries in order, then commits them and the consistent index in one
/// backend transaction and publishes the new revision. Readers see nothing of it before <see cref="Commit"/>.
/// </summary>
/// <remarks>
/// Writes are kept in memory (and in the key index, above the published revision) until Commit, which
/// opens, fills and commits the LMDB write transaction on one thread. Reads inside the batch (txn ranges,
/// prev_kv, compares) see the batch's own earlier writes. An etcd error is detected before anything changes
/// (as etcd checks a txn before applying it), so a failed request leaves no trace. Disposing without
/// Commit forgets the whole batch.
/// </remarks>
public sealed class ApplyBatch : IDisposable, IValueSource
{
    private readonly MvccStore store;
    private readonly StoreState committed;
    private readonly BackendReadTransaction read;
    private readonly BackendValues committedValues;
    private readonly TreeIndex index;
    private readonly Collections collections;
    private readonly Dictionary<Revision, KeyValue> pending;
    private readonly List<(Revision Revision, bool Tombstone, KeyValue Kv)> writes;
    private readonly HashSet<KeyIndex> touched;
    private readonly Dictionary<string, byte[]?> extraMeta;
    private long currentRevision;
    private long compactedRevision;
    private long? compactTo;
    private ulong consistentIndex;
    private bool finished;

    // The request being applied: etcd's storeTxnWrite (beginRev, changes).
    private long beginRevision;
    private int changes;

    internal ApplyBatch(MvccStore store, StoreState committed, BackendReadTransaction read, Collections collections)
    {
        this.collections = collections;
        (pending, writes, touched, extraMeta) = (collections.Pending, collections.Writes, collections.Touched, collections.ExtraMeta);
        this.store = store;
        this.committed = committed;
        this.read = read;
        committedValues = new BackendValues(read, store.KeyBucket);
        index = store.Index;
        currentRevision = committed.Revision;
        compactedRevision = committed.CompactedRevision;
        consistentIndex = committed.ConsistentIndex;
    }

    /// <summary>The revision after the entries applied so far (published only by Commit).</summary>
    public long CurrentRevision => currentRevision;

    public ulong ConsistentIndex => consistentIndex;

    /// <summary>The member's lessor: lease checks of puts and key attachments. Without one, every lease is missing.</summary>
    public ILeaseTracker? Leases { get; set; }

    private bool LeaseExists(long lease) => Leases?.Exists(lease) ?? false;

    /// <summary>The changes applied so far (after <see cref="Commit"/>: the ones it committed), in revision order, as
    /// watchers receive them: a PUT carries the new KeyValue, a DELETE a KeyValue with only the key and the delete's
    /// mod_revision (as etcd fills it). For the watch hub to hand out after Commit; the instances must not be modified.</summary>
    public IReadOnlyList<Event> Events => committedEvents ?? BuildEvents();

    private Event[]? committedEvents;

    private Event[] BuildEvents()
    {
        if (writes.Count == 0) return [];
        var events = new Event[writes.Count];
        for (var i = 0; i < events.Length; i++)
        {
            var (revision, tombstone, kv) = writes[i];
            events[i] = tombstone
                ? new Event { Type = Event.Types.EventType.Delete, Kv = new KeyValue { Key = kv.Key, ModRevision = revision.Main } }
                : new Event { Type = Event.Types.EventType.Put, Kv = kv };
        }
        return events;
    }

    /// <summary>Applies one log entry. Returns its PutResponse / DeleteRangeResponse / TxnResponse / CompactionResponse
    /// with Header.Revision set. Throws <see cref="EtcdException"/> with the state unchanged (the entry still counts
    /// as applied for the consistent index).</summary>
    public IMessage Apply(ulong index, LogRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        EnsureOpen();
        if (index <= consistentIndex) throw new ArgumentOutOfRangeException(nameof(index), $"entry {index} is not after {consistentIndex}");
        try
        {
            return request.RequestCase switch
            {
                LogRequest.RequestOneofCase.Put => ApplyPut(request.Put),
                LogRequest.RequestOneofCase.DeleteRange => ApplyDeleteRange(request.DeleteRange),
                LogRequest.RequestOneofCase.Txn => ApplyTxn(request.Txn),
                LogRequest.RequestOneofCase.Compaction => ApplyCompaction(request.Compaction),
                _ => throw new ArgumentException($"log entry {index} carries no request", nameof(request)),
            };
        }
        finally
        {
            consistentIndex = index;
        }
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="name"/> in the meta bucket, in this batch's
    /// transaction (so it is exactly as durable and as current as the consistent index). Read with <see cref="MvccStore.ReadMeta"/>.</summary>
    public void SetMeta(string name, byte[] value)
    {
        EnsureOpen();
        extraMeta[name] = value;
    }

    /// <summary>Removes the meta value <paramref name="name"/> in this batch's transaction.</summary>
    public void DeleteMeta(string name)
    {
        EnsureOpen();
        extraMeta[name] = null;
    }

    /// <summary>Applies log entry <paramref name="index"/> that deletes exactly <paramref name="keys"/> (those that
    /// exist) in one revision, with a delete's usual semantics: a lease revoke. Returns the revision after it.</summary>
    public long DeleteKeys(ulong index, IEnumerable<ByteString> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        EnsureOpen();
        if (index <= consistentIndex) throw new ArgumentOutOfRangeException(nameof(index), $"entry {index} is not after {consistentIndex}");
        BeginRequest();
        foreach (var key in keys)
        {
            if (this.index.Find(key.Memory) is { } keyIndex && keyIndex.TryGet(ReadRevision, out _, out _, out _)) WriteTombstone(keyIndex);
        }
        EndRequest();
        consistentIndex = index;
        return currentRevision;
    }

    /// <summary>Records a log entry that carries nothing for the store (e.g. a conf change), so replay skips it.</summary>
    public void MarkApplied(ulong index)
    {
        EnsureOpen();
        if (index <= consistentIndex) throw new ArgumentOutOfRangeException(nameof(index), $"entry {index} is not after {consistentIndex}");
        consistentIndex = index;
    }

    private PutResponse ApplyPut(PutRequest put)
    {
        if (put.Lease != 0 && !LeaseExists(put.Lease)) throw EtcdErrors.LeaseNotFound.ToException();
        BeginRequest();
        var response = Put(put);
        EndRequest();
        return response;
    }

    private DeleteRangeResponse ApplyDeleteRange(DeleteRangeRequest delete)
    {
        BeginRequest();
        var response = DeleteRange(delete);
        EndRequest();
        response.Header.Revision = currentRevision;
        return response;
    }

    private CompactionResponse ApplyCompaction(CompactionRequest compaction)
    {
        if (compaction.Revision <= compactedRevision) throw EtcdErrors.Compacted.ToException();
        if (compaction.Revision > currentRevision) throw EtcdErrors.FutureRevision.ToException();
        compactedRevision = compaction.Revision;
        compactTo = compaction.Revision;
        return new CompactionResponse { Header = new ResponseHeader { Revision = currentRevision } };
    }

    // ---- txn: compares and checks against the state before the txn, then apply along the chosen path ----

    private TxnResponse ApplyTxn(TxnRequest txn)
    {
        BeginRequest();
        var path = new List<bool>();
        ComparePath(txn, path);
        var position = 0;
        if (!IsReadOnly(txn)) CheckPuts(txn, path, ref position);
        position = 0;
        CheckRanges(txn, path, ref position);
        position = 0;
        var response = ApplyTxnOps(txn, path, ref position);
        EndRequest();
        response.Header = new ResponseHeader { Revision = currentRevision };
        return response;
    }

    private void ComparePath(TxnRequest txn, List<bool> path)
    {
        var succeeded = txn.Compare.All(compare => TxnCompare.Holds(index, compare, beginRevision, this));
        path.Add(succeeded);
        foreach (var op in succeeded ? txn.Success : txn.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn) ComparePath(op.RequestTxn, path);
        }
    }

    private static bool IsReadOnly(TxnRequest txn) =>
        txn.Success.Concat(txn.Failure).All(op => op.RequestCase == RequestOp.RequestOneofCase.RequestRange);

    private void CheckPuts(TxnRequest txn, List<bool> path, ref int position)
    {
        foreach (var op in path[position++] ? txn.Success : txn.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                CheckPuts(op.RequestTxn, path, ref position);
            }
            else if (op.RequestCase == RequestOp.RequestOneofCase.RequestPut)
            {
                var put = op.RequestPut;
                if ((put.IgnoreValue || put.IgnoreLease) && Get(put.Key, beginRevision) is null) throw EtcdErrors.KeyNotFound.ToException();
                if (put.Lease != 0 && !LeaseExists(put.Lease)) throw EtcdErrors.LeaseNotFound.ToException();
            }
        }
    }

    private void CheckRanges(TxnRequest txn, List<bool> path, ref int position)
    {
        foreach (var op in path[position++] ? txn.Success : txn.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                CheckRanges(op.RequestTxn, path, ref position);
            }
            else if (op.RequestCase == RequestOp.RequestOneofCase.RequestRange && op.RequestRange.Revision != 0)
            {
                if (op.RequestRange.Revision > beginRevision) throw EtcdErrors.FutureRevision.ToException();
                if (op.RequestRange.Revision < compactedRevision) throw EtcdErrors.Compacted.ToException();
            }
        }
    }

    private TxnResponse ApplyTxnOps(TxnRequest txn, List<bool> path, ref int position)
    {
        var succeeded = path[position++];
        var response = new TxnResponse { Succeeded = succeeded };
        foreach (var op in succeeded ? txn.Success : txn.Failure)
        {
            response.Responses.Add(op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => new ResponseOp { ResponseRange = Range(op.RequestRange) },
                RequestOp.RequestOneofCase.RequestPut => new ResponseOp { ResponsePut = Put(op.RequestPut) },
                RequestOp.RequestOneofCase.RequestDeleteRange => new ResponseOp { ResponseDeleteRange = DeleteRange(op.RequestDeleteRange) },
                RequestOp.RequestOneofCase.RequestTxn => new ResponseOp { ResponseTxn = NestedTxn(op.RequestTxn, path, ref position) },
                _ => throw new ArgumentException("txn operation carries no request"),
            });
        }
        return response;
    }

    private TxnResponse NestedTxn(TxnRequest txn, List<bool> path, ref int position)
    {
        var response = ApplyTxnOps(txn, path, ref position);
        response.Header = new ResponseHeader(); // etcd leaves a nested txn's header empty
        return response;
    }

    // ---- the request's reads and writes (etcd's storeTxnWrite) ----

    private void BeginRequest()
    {
        beginRevision = currentRevision;
        changes = 0;
    }

    private void EndRequest()
    {
        if (changes > 0) currentRevision = beginRevision + 1;
    }

    /// <summary>The revision the request's reads see: its own changes included.</summary>
    private long ReadRevision => changes > 0 ? beginRevision + 1 : beginRevision;

    private RangeResponse Range(RangeRequest request)
    {
        var at = ReadRevision;
        RangePlan plan;
        index.Lock.EnterReadLock();
        try
        {
            plan = RangeQuery.Plan(index, request, at, compactedRevision);
        }
        finally
        {
            index.Lock.ExitReadLock();
        }
        var response = RangeQuery.Execute(plan, request, this);
        response.Header = new ResponseHeader { Revision = at };
        return response;
    }

    private PutResponse Put(PutRequest put)
    {
        var previous = put.IgnoreValue || put.IgnoreLease || put.PrevKv ? Get(put.Key, ReadRevision) : null;
        if ((put.IgnoreValue || put.IgnoreLease) && previous is null) throw EtcdErrors.KeyNotFound.ToException();
        var value = put.IgnoreValue ? previous!.Value : put.Value;
        var lease = put.IgnoreLease ? previous!.Lease : put.Lease;
        var revision = WritePut(put.Key, value, lease);
        var response = new PutResponse { Header = new ResponseHeader { Revision = revision } };
        if (put.PrevKv && previous is not null) response.PrevKv = previous;
        return response;
    }

    private DeleteRangeResponse DeleteRange(DeleteRangeRequest delete)
    {
        var at = ReadRevision;
        var victims = new List<(KeyIndex Key, Revision Modified)>();
        index.Lock.EnterReadLock();
        try
        {
            foreach (var keyIndex in index.Scan(delete.Key.Memory, delete.RangeEnd.Memory))
            {
                if (keyIndex.TryGet(at, out var modified, out _, out _)) victims.Add((keyIndex, modified));
            }
        }
        finally
        {
            index.Lock.ExitReadLock();
        }
        var response = new DeleteRangeResponse { Deleted = victims.Count };
        foreach (var (keyIndex, modified) in victims)
        {
            if (delete.PrevKv) response.PrevKvs.Add(Load(modified));
            WriteTombstone(keyIndex);
        }
        response.Header = new ResponseHeader { Revision = ReadRevision };
        return response;
    }

    private long WritePut(ByteString key, ByteString value, long lease)
    {
        var revision = new Revision(beginRevision + 1, changes);
        var existing = index.Find(key.Memory);
        long created = revision.Main, version = 1;
        if (existing is not null && existing.TryGet(revision.Main, out _, out var createdBefore, out var versionBefore))
        {
            created = createdBefore;
            version = versionBefore + 1;
        }
        var kv = new KeyValue { Key = key, Value = value, CreateRevision = created, ModRevision = revision.Main, Version = version, Lease = lease };
        index.Lock.EnterWriteLock();
        try
        {
            var keyIndex = existing ?? index.GetOrAdd(key.Memory);
            keyIndex.Put(revision, created, version);
            touched.Add(keyIndex);
        }
        finally
        {
            index.Lock.ExitWriteLock();
        }
        Record(revision, tombstone: false, kv);
        Leases?.OnPut(key, lease);
        return revision.Main;
    }

    private void WriteTombstone(KeyIndex keyIndex)
    {
        var revision = new Revision(beginRevision + 1, changes);
        index.Lock.EnterWriteLock();
        try
        {
            keyIndex.Tombstone(revision);
            touched.Add(keyIndex);
        }
        finally
        {
            index.Lock.ExitWriteLock();
        }
        var deleted = ByteString.CopyFrom(keyIndex.Key.Span);
        Record(revision, tombstone: true, new KeyValue { Key = deleted });
        Leases?.OnDelete(deleted);
    }

    private void Record(Revision revision, bool tombstone, KeyValue kv)
    {
        pending[revision] = kv;
        writes.Add((revision, tombstone, kv));
        changes++;
    }

    private KeyValue? Get(ByteString key, long at) =>
        index.Find(key.Memory) is { } keyIndex && keyIndex.TryGet(at, out var modified, out _, out _) ? Load(modified) : null;

    /// <summary>A revision's KeyValue: this batch's own writes first, then the committed snapshot. Always a fresh copy.</summary>
    private KeyValue Load(Revision revision) =>
        pending.TryGetValue(revision, out var kv) ? kv.Clone() : committedValues.Load(revision);

    KeyValue IValueSource.Load(Revision revision) => Load(revision);

    // ---- commit / abandon ----

    /// <summary>Commits the batch's data and consistent index in one backend transaction, then publishes the new revision.</summary>
    public void Commit()
    {
        EnsureOpen();
        committedEvents = BuildEvents(); // before Finish gives the writes' list back to the store
        if (writes.Count == 0 && compactTo is null && extraMeta.Count == 0 && consistentIndex == committed.ConsistentIndex)
        {
            Finish(); // nothing to write
            return;
        }
        using (var write = store.Backend.BeginWrite())
        {
            foreach (var (revision, tombstone, kv) in writes) BackendValues.Write(write, store.KeyBucket, revision, tombstone, kv);
            var compactionStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            if (compactTo is { } compactAt) CompactBackend(write, compactAt);
            Span<byte> number = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(number, consistentIndex);
            write.Put(store.MetaBucket, MvccStore.ConsistentIndexKey, number);
            foreach (var (name, value) in extraMeta)
            {
                var metaKey = System.Text.Encoding.UTF8.GetBytes(MvccStore.ExtraMetaPrefix + name);
                if (value is null) write.Delete(store.MetaBucket, metaKey);
                else write.Put(store.MetaBucket, metaKey, value);
            }
            Failpoints.Hit(compactTo is null ? "backendBeforeCommit" : "compactBeforeCommit");
            index.Lock.EnterWriteLock();
            try
            {
                var commitStarted = System.Diagnostics.Stopwatch.GetTimestamp();
                write.Commit();
                HttpKv.Storage.Metrics.StorageMetrics.BackendCommitDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(commitStarted).TotalSeconds);
                Failpoints.Hit("backendAfterCommit");
                if (compactTo is { } compactIndexAt)
                {
                    var indexStarted = System.Diagnostics.Stopwatch.GetTimestamp();
                    CompactIndex(compactIndexAt);
                    HttpKv.Storage.Metrics.StorageMetrics.IndexCompactionPause.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(indexStarted).TotalMilliseconds);
                    HttpKv.Storage.Metrics.StorageMetrics.CompactionTotal.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(compactionStarted).TotalMilliseconds);
                }
                store.Publish(new StoreState(currentRevision, compactedRevision, consistentIndex));
            }
            finally
            {
                index.Lock.ExitWriteLock();
            }
        }
        Finish();
    }

    private void CompactBackend(BackendWriteTransaction write, long compactAt)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        CompactBackendCore(write, compactAt);
        HttpKv.Storage.Metrics.StorageMetrics.CompactionPause.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private void CompactBackendCore(BackendWriteTransaction write, long compactAt)
    {
        var keep = new HashSet<Revision>();
        index.Lock.EnterReadLock();
        try
        {
            foreach (var keyIndex in index.All()) keyIndex.CollectKept(compactAt, keep);
        }
        finally
        {
            index.Lock.ExitReadLock();
        }
        var doomed = new List<byte[]>();
        write.Scan(store.KeyBucket, default, (key, value) =>
        {
            var revision = Revision.Decode(key, out _);
            if (revision.Main > compactAt) return false;
            if (!keep.Contains(revision)) doomed.Add(key.ToArray());
            return true;
        });
        foreach (var key in doomed) write.Delete(store.KeyBucket, key);
        HttpKv.Storage.Metrics.StorageMetrics.CompactionKeys.Inc(doomed.Count);
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(number, compactAt);
        write.Put(store.MetaBucket, MvccStore.FinishedCompactKey, number);
    }

    /// <summary>Caller holds the index's write lock.</summary>
    private void CompactIndex(long compactAt)
    {
        var emptied = index.All().Where(keyIndex => keyIndex.Compact(compactAt)).ToList();
        foreach (var keyIndex in emptied) index.Remove(keyIndex);
    }

    private void EnsureOpen() => ObjectDisposedException.ThrowIf(finished, this);

    private void Finish()
    {
        finished = true;
        read.Dispose();
        store.EndBatch(collections);
    }

    /// <summary>A batch's own collections, which the store keeps from one batch to the next (there is one writer at a
    /// time), so that a batch does not grow new ones every time. Cleared when returned; not kept after a batch that
    /// grew them past <see cref="KeptCapacity"/> (clearing them would cost every later batch).</summary>
    internal sealed class Collections
    {
        private const int KeptCapacity = 4096;
        public readonly Dictionary<Revision, KeyValue> Pending = [];
        public readonly List<(Revision Revision, bool Tombstone, KeyValue Kv)> Writes = [];
        public readonly HashSet<KeyIndex> Touched = [];
        public readonly Dictionary<string, byte[]?> ExtraMeta = [];

        /// <summary>Clears them for the next batch; false when they are too large to keep.</summary>
        public bool TryReset()
        {
            if (Writes.Count > KeptCapacity || Touched.Count > KeptCapacity || Pending.Count > KeptCapacity) return false;
            Pending.Clear();
            Writes.Clear();
            Touched.Clear();
            ExtraMeta.Clear();
            return true;
        }
    }

    /// <summary>Without a Commit, forgets everything the batch applied.</summary>
    public void Dispose()
    {
        if (finished) return;
        index.Lock.EnterWriteLock();
        try
        {
            foreach (var keyIndex in touched)
            {
                if (keyIndex.RollbackAfter(committed.Revision)) index.Remove(keyIndex);
            }
        }
        finally
        {
            index.Lock.ExitWriteLock();
        }
        Finish();
    }
}
