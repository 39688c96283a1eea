using HttpKv.Protocol;
using HttpKv.Server.Metrics;
using Mvccpb;

namespace HttpKv.Server.Watch;

/// <summary>What a watcher reads: events in revision order with the header revision; or, with CompactRevision set,
/// the notice that the watcher's next revision was compacted (the watcher is then closed, as etcd cancels it).</summary>
public sealed record WatchBatch(IReadOnlyList<Event> Events, long Revision, long CompactRevision = 0)
{
    /// <summary>The encoded size of the events, as counted against the watcher's queue.</summary>
    internal long Bytes { get; init; }
}

/// <summary>One watcher of a <see cref="WatchHub"/>. One reader at a time calls <see cref="ReadAsync"/>.</summary>
public sealed class Watcher : IDisposable
{
    private readonly WatchHub hub;
    private readonly Queue<WatchBatch> queue = new();
    private TaskCompletionSource? signal;
    private long enqueuedThrough;
    private long queuedBytes;
    private int inFlight; // batches handed to the reader and not yet reported Delivered
    private bool isSynced;
    private bool closed;
    private bool disposed;
    private long queuedEvents;

    /// <summary>Caller holds the hub's gate.</summary>
    internal Watcher(WatchHub hub, WatchSpec spec, long enqueuedThrough, bool isSynced)
    {
        this.hub = hub;
        Spec = spec;
        this.enqueuedThrough = enqueuedThrough;
        this.isSynced = isSynced;
        WatchMetrics.Watchers.Inc();
        if (!isSynced) WatchMetrics.SlowWatchers.Inc();
    }

    /// <summary>Caller holds the hub's gate. Every change of <see cref="isSynced"/> goes through here, so that the
    /// slow-watcher gauge counts exactly the live watchers that are not synced.</summary>
    private void SetSynced(bool value)
    {
        if (value == isSynced) return;
        isSynced = value;
        if (disposed) return;
        if (value) WatchMetrics.SlowWatchers.Dec();
        else WatchMetrics.SlowWatchers.Inc();
    }

    public WatchSpec Spec { get; }

    /// <summary>Nonzero for a watcher created below the compacted revision (a negative start revision): its first read
    /// is the compaction notice with this revision, and it is closed.</summary>
    internal long CompactedAtStart { get; init; }

    public bool IsSynced
    {
        get
        {
            lock (hub.Gate) return isSynced;
        }
    }

    public int QueuedBatches
    {
        get
        {
            lock (hub.Gate) return queue.Count;
        }
    }

    /// <summary>Caller holds the hub's gate. False when the queue is full (in batches or bytes; <paramref name="sizes"/>
    /// are the events' encoded sizes): the watcher is then unsynced and will read the changes after
    /// <paramref name="previous"/> from history.</summary>
    internal bool Offer(IReadOnlyList<Event> events, int[] sizes, long revision, long previous)
    {
        if (disposed) return true; // about to leave the synced set
        var count = 0;
        var bytes = 0L;
        for (var i = 0; i < events.Count; i++)
        {
            if (!Takes(events[i])) continue;
            count++;
            bytes += sizes[i];
        }
        if (count == 0) return true;
        if (queue.Count >= hub.QueueCapacity || queue.Count > 0 && queuedBytes + bytes > hub.QueueBytes)
        {
            Unsync(previous);
            return false;
        }
        // A watcher that wants the whole batch (the usual prefix watch) shares the hub's list, which never changes
        // once published: no copy per watcher. Otherwise an exactly sized array of the events it wants.
        IReadOnlyList<Event> wanted = events;
        if (count < events.Count)
        {
            var some = new Event[count];
            var next = 0;
            for (var i = 0; i < events.Count; i++)
            {
                if (Takes(events[i])) some[next++] = events[i];
            }
            wanted = some;
        }
        queue.Enqueue(new WatchBatch(wanted, revision) { Bytes = bytes });
        queuedBytes += bytes;
        queuedEvents += count;
        WatchMetrics.PendingEvents.Inc(count);
        enqueuedThrough = Math.Max(enqueuedThrough, revision);
        signal?.TrySetResult();
        return true;
    }

    private bool Takes(Event change) => change.Kv.ModRevision > enqueuedThrough && Spec.Wants(change);

    /// <summary>Caller holds the hub's gate and removes the watcher from the synced set.</summary>
    internal void Unsync(long through)
    {
        SetSynced(false);
        enqueuedThrough = Math.Max(enqueuedThrough, through);
        signal?.TrySetResult();
    }

    /// <summary>The next batch of events for this watcher, or null once it is disposed. Reads history while unsynced.</summary>
    public async ValueTask<WatchBatch?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? wait = null;
            long from = 0;
            lock (hub.Gate)
            {
                if (closed) return null;
                if (CompactedAtStart != 0)
                {
                    closed = true;
                    inFlight++; // as the compaction cancel below
                    return new WatchBatch([], hub.History.CurrentRevision, CompactedAtStart);
                }
                if (queue.TryDequeue(out var next))
                {
                    queuedBytes -= next.Bytes;
                    queuedEvents -= next.Events.Count;
                    WatchMetrics.PendingEvents.Dec(next.Events.Count);
                    WatchMetrics.Events.Inc(next.Events.Count);
                    inFlight++;
                    return WithPrevious(next);
                }
                if (isSynced) wait = (signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                else from = enqueuedThrough + 1;
            }
            if (wait is not null)
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            IReadOnlyList<Event> events;
            long through;
            try
            {
                (events, through) = hub.History.ReadEvents(from, WatchHub.HistoryChunk, WatchHub.HistoryChunkBytes);
            }
            catch (EtcdException exception) when (exception.Error == EtcdErrors.Compacted)
            {
                lock (hub.Gate)
                {
                    closed = true;
                    inFlight++; // the cancel is news the client has not had: no progress notification before it
                }
                // The compact revision is where the client may resume. Compaction at C drops a tombstone at C, so
                // history is complete only after C: a watch from C itself is told C + 1 (etcd would serve it and miss
                // such a delete); answering C, as before, made a client that resumes there loop forever.
                var compacted = Math.Max(hub.History.CompactedRevision, 1);
                return new WatchBatch([], hub.History.CurrentRevision, from >= compacted ? from + 1 : compacted);
            }
            var wanted = events.Where(Spec.Wants).ToList();
            lock (hub.Gate)
            {
                enqueuedThrough = Math.Max(enqueuedThrough, through);
                if (!closed && hub.TryJoin(this, enqueuedThrough)) SetSynced(true);
                if (wanted.Count > 0) inFlight++;
            }
            if (wanted.Count == 0) continue;
            WatchMetrics.Events.Inc(wanted.Count);
            return WithPrevious(new WatchBatch(wanted, through));
        }
    }

    /// <summary>The reader reports that the last batch it read has been passed on (queued for the client, in order):
    /// until then a progress notification must not claim its revision.</summary>
    public void Delivered()
    {
        lock (hub.Gate) inFlight = Math.Max(0, inFlight - 1);
    }

    /// <summary>Caller holds the hub's gate. True when every event through the last published revision has been
    /// delivered: nothing read and not yet delivered (a compaction cancel included), and synced with nothing queued or
    /// closed (nothing more will come).</summary>
    internal bool IsCaughtUp => inFlight == 0 && (closed || isSynced && queue.Count == 0);

    private WatchBatch WithPrevious(WatchBatch batch)
    {
        if (!Spec.PrevKv) return batch;
        var events = batch.Events.Select(change => new Event
        {
            Type = change.Type,
            Kv = change.Kv,
            PrevKv = hub.History.Get(change.Kv.Key.Span, change.Kv.ModRevision - 1),
        }).ToList();
        return batch with { Events = events };
    }

    public void Dispose()
    {
        lock (hub.Gate)
        {
            closed = true;
            signal?.TrySetResult();
            if (!disposed)
            {
                disposed = true;
                WatchMetrics.Watchers.Dec();
                if (!isSynced) WatchMetrics.SlowWatchers.Dec();
                WatchMetrics.PendingEvents.Dec(queuedEvents);
            }
        }
        hub.Remove(this);
    }
}
