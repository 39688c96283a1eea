using Mvccpb;

namespace HttpKv.Server.Watch;

/// <summary>What a watcher asks for: a key or a range [key, range_end) as etcd's (range_end "\0" = every key from
/// key on), the first revision (0 = changes after now), filters and prev_kv.</summary>
public sealed record WatchSpec(byte[] Key, byte[] RangeEnd, long StartRevision = 0, bool NoPut = false, bool NoDelete = false, bool PrevKv = false)
{
    public bool Matches(ReadOnlySpan<byte> key)
    {
        if (RangeEnd.Length == 0) return key.SequenceEqual(Key);
        if (key.SequenceCompareTo(Key) < 0) return false;
        return RangeEnd is [0] || key.SequenceCompareTo(RangeEnd) < 0;
    }

    public bool Wants(Event change) =>
        (change.Type == Event.Types.EventType.Put ? !NoPut : !NoDelete) && Matches(change.Kv.Key.Span);
}

/// <summary>Where the watch hub reads what it has not kept: the committed history and previous versions.</summary>
public interface IWatchHistory
{
    /// <summary>Changes from <paramref name="fromRevision"/> on, about <paramref name="maxEvents"/> and
    /// <paramref name="maxBytes"/> at most (see MvccStore.ReadEvents); throws Compacted.</summary>
    (IReadOnlyList<Event> Events, long Through) ReadEvents(long fromRevision, int maxEvents, long maxBytes);

    /// <summary>The key's KeyValue at <paramref name="revision"/>, or null (absent or compacted).</summary>
    KeyValue? Get(ReadOnlySpan<byte> key, long revision);

    long CurrentRevision { get; }

    long CompactedRevision { get; }
}

/// <summary>
/// Fans out each committed batch's events to the watchers, as etcd's watchable store: a synced watcher receives
/// live events through a bounded queue; an unsynced one (new with an old start revision, or one whose queue
/// overflowed) reads history itself, at its reader's pace, and joins the synced set once it has read up to the last
/// published revision. Publish never blocks and never reads the store. See docs/watch.md.
/// </summary>
public sealed class WatchHub(IWatchHistory history, int queueCapacity = WatchHub.DefaultQueueCapacity, long queueBytes = WatchHub.DefaultQueueBytes)
{
    /// <summary>A synced watcher's queue holds at most this many batches…</summary>
    public const int DefaultQueueCapacity = 1024;

    /// <summary>…and at most this many bytes of events (one batch more if the queue is empty); past either limit
    /// the watcher becomes unsynced and reads history instead.</summary>
    public const long DefaultQueueBytes = 1 << 20;

    /// <summary>An unsynced watcher reads history in chunks of about this many events…</summary>
    internal const int HistoryChunk = 1000;

    /// <summary>…and this many bytes (more only for a single larger revision, which is never split), so that a
    /// catch-up response stays under the 4 MiB gRPC clients receive by default. Above etcd's default fragment limit
    /// (--max-request-bytes 1.5 MiB + 512 KiB), so fragment=true still splits large history responses as etcd.</summary>
    internal const long HistoryChunkBytes = 3 << 20;

    private readonly object gate = new();
    private readonly HashSet<Watcher> synced = [];
    private long published;

    internal object Gate => gate;
    internal IWatchHistory History => history;
    internal int QueueCapacity => queueCapacity;
    internal long QueueBytes => queueBytes;

    /// <summary>The last revision published (or the store's, if larger: a commit whose Publish is pending).</summary>
    public long Revision
    {
        get
        {
            lock (gate) return Math.Max(published, history.CurrentRevision);
        }
    }

    public int SyncedCount
    {
        get
        {
            lock (gate) return synced.Count;
        }
    }

    /// <summary>Creates a watcher. With StartRevision 0 it sees the changes after the current revision.</summary>
    public Watcher Watch(WatchSpec spec)
    {
        lock (gate)
        {
            // etcd's watchable store keeps a negative start revision as it is: an unsynced watcher whose first revision lies
            // below the compacted one (etcd's is -1 until the first compaction) is cancelled at once with that compact
            // revision; -1 before any compaction is below nothing and, reading no history, watches from now.
            var compacted = history.CompactedRevision > 0 ? history.CompactedRevision : -1;
            if (spec.StartRevision < 0 && spec.StartRevision < compacted)
                return new Watcher(this, spec, Math.Max(published, history.CurrentRevision), isSynced: false) { CompactedAtStart = compacted };
            if (spec.StartRevision <= 0)
            {
                var watcher = new Watcher(this, spec, Math.Max(published, history.CurrentRevision), isSynced: true);
                synced.Add(watcher);
                return watcher;
            }
            return new Watcher(this, spec, spec.StartRevision - 1, isSynced: false);
        }
    }

    /// <summary>Called by the apply loop after each commit, with the batch's events (in revision order) and the
    /// revision after it. Cheap: matches and enqueues; a watcher whose queue is full becomes unsynced. Neither the list nor
    /// its events may change afterwards: watchers that want every event of the batch keep the list itself.</summary>
    public void Publish(IReadOnlyList<Event> events, long revision)
    {
        lock (gate)
        {
            var previous = published;
            published = Math.Max(published, revision);
            if (events.Count == 0 || synced.Count == 0) return;
            List<Watcher>? overflowed = null;
            var sizes = new int[events.Count];
            for (var i = 0; i < sizes.Length; i++) sizes[i] = events[i].CalculateSize();
            foreach (var watcher in synced)
            {
                if (!watcher.Offer(events, sizes, revision, previous)) (overflowed ??= []).Add(watcher);
            }
            if (overflowed is null) return;
            foreach (var watcher in overflowed) synced.Remove(watcher);
        }
    }

    /// <summary>Makes every watcher read from the store again, after the store was replaced by a snapshot. The
    /// snapshot's revisions were never published, so the published revision moves to the new store's: a watcher that
    /// read the old store's history up to its last revision (and is about to join the synced set) must not join
    /// before it has read those revisions too (see docs/ROBUSTNESS.md, bug 15).</summary>
    public void ResyncAll()
    {
        lock (gate)
        {
            foreach (var watcher in synced) watcher.Unsync(published);
            synced.Clear();
            published = Math.Max(published, history.CurrentRevision);
        }
    }

    /// <summary>The revision a progress notification for <paramref name="watchers"/> may claim: the last published
    /// revision, if every one of them has delivered every event through it (see <see cref="Watcher.Delivered"/>);
    /// otherwise false, since a notification must never be ahead of the events its watchers have yet to send. Not
    /// the store's revision: a commit whose Publish is pending has events not offered to any watcher yet.</summary>
    public bool TryProgress(IEnumerable<Watcher> watchers, out long revision)
    {
        ArgumentNullException.ThrowIfNull(watchers);
        lock (gate)
        {
            revision = published;
            foreach (var watcher in watchers)
            {
                if (!watcher.IsCaughtUp) return false;
            }
            return true;
        }
    }

    /// <summary>Caller holds the gate.</summary>
    internal bool TryJoin(Watcher watcher, long through)
    {
        if (through < published) return false;
        synced.Add(watcher);
        return true;
    }

    internal void Remove(Watcher watcher)
    {
        lock (gate) synced.Remove(watcher);
    }
}
