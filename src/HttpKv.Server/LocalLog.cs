using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>The log of a one-member cluster: an entry is committed when its WAL record is fsynced
/// (a quorum of one), then applied to the MVCC store in order by a single apply loop.
///
/// The write path: <see cref="ProposeAsync"/> assigns the next index under a lock and hands the entry to
/// the WAL (group commit: concurrent proposals share one fsync) and, in the same order, to the apply queue.
/// The apply loop waits for each entry's fsync, applies every already-durable entry in one backend
/// transaction (the consistent index stored with the data), then completes the proposers' waiters.
/// A restart replays the WAL entries after the backend's consistent index, so the backend may commit lazily.</summary>
public sealed class LocalLog : IReplicatedLog
{
    /// <summary>etcd refuses proposals once this many committed entries wait to be applied ("too many requests").</summary>
    private const int MaxUnappliedEntries = 5000;
    private const int MaxApplyBatchEntries = 1024;

    private readonly WriteAheadLog wal;
    private readonly MvccStore store;
    private readonly ILogger logger;
    private readonly Channel<Pending> applyQueue = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<IMessage>> waiters = new();
    private readonly Lock appendLock = new();
    private readonly Task applyLoop;
    private readonly ulong snapshotCount;
    private ulong releasedThroughIndex;
    private Task release = Task.CompletedTask;
    private TaskCompletionSource appliedSignal = NewSignal();
    private ulong lastIndex;
    private ulong committedIndex;
    private ulong appliedIndex;
    private long nextRequestId;
    private bool stopped;

    private readonly record struct Pending(LogEntry Entry, LogRequest Request, Task Durable);

    private LocalLog(WriteAheadLog wal, MvccStore store, ulong term, ulong snapshotCount, ILogger logger)
    {
        this.wal = wal;
        this.snapshotCount = Math.Max(snapshotCount, 1);
        this.store = store;
        this.logger = logger;
        Term = term;
        appliedIndex = committedIndex = lastIndex = Math.Max(wal.LastIndex, store.ConsistentIndex);
        releasedThroughIndex = wal.Entries.Count > 0 ? wal.Entries[0].Index - 1 : appliedIndex;
        nextRequestId = DateTime.UtcNow.Ticks;
        applyLoop = Task.Run(RunApplyLoopAsync);
    }

    public ulong Term { get; }
    public ulong CommittedIndex => Volatile.Read(ref committedIndex);
    public ulong AppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary>Replays the WAL entries the backend has not applied yet, starts a new term and starts the apply loop.
    /// The term follows etcd's: a new member bootstraps at term 1 and elects itself at term 2; every restart is
    /// another election, one term higher (so raft_term in headers matches etcd's for the same history).</summary>
    public static async Task<LocalLog> StartAsync(WriteAheadLog wal, MvccStore store, ulong memberId, ulong snapshotCount, ILogger logger)
    {
        var replayed = Replay(wal, store);
        var term = Math.Max(wal.HardState.Term, 1) + 1;
        var index = Math.Max(wal.LastIndex, store.ConsistentIndex);
        await wal.AppendAsync([], new HardState(term, memberId, index));
        logger.LogInformation("Replayed {Entries} WAL entries after consistent index; became leader at term {Term}, last index {Index}",
            replayed, term, index);
        return new LocalLog(wal, store, term, snapshotCount, logger);
    }

    private static int Replay(WriteAheadLog wal, MvccStore store)
    {
        var missing = wal.Entries.Where(entry => entry.Index > store.ConsistentIndex).ToList();
        foreach (var chunk in missing.Chunk(MaxApplyBatchEntries))
        {
            using var batch = store.BeginApply();
            foreach (var entry in chunk)
            {
                try { batch.Apply(entry.Index, LogRequest.Parser.ParseFrom(entry.Data.Span)); }
                catch (EtcdException) { /* the request failed when it was first applied too; nothing changed */ }
            }
            batch.Commit();
        }
        return missing.Count;
    }

    public Task<IMessage> ProposeAsync(LogRequest request, CancellationToken cancellationToken)
    {
        request.Id = (ulong)Interlocked.Increment(ref nextRequestId);
        var data = request.ToByteArray();
        var waiter = new TaskCompletionSource<IMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        waiters[request.Id] = waiter;
        lock (appendLock)
        {
            EtcdError? refusal = stopped ? EtcdErrors.Stopped
                : lastIndex - AppliedIndex >= MaxUnappliedEntries ? EtcdErrors.TooManyRequests : null;
            if (refusal is not null)
            {
                waiters.TryRemove(request.Id, out _);
                return Task.FromException<IMessage>(refusal.ToException());
            }
            var entry = new LogEntry(Term, ++lastIndex, data);
            var durable = wal.AppendAsync([entry], null, CancellationToken.None);
            applyQueue.Writer.TryWrite(new Pending(entry, request, durable));
        }
        return waiter.Task.WaitAsync(cancellationToken);
    }

    public async Task WaitForReadIndexAsync(CancellationToken cancellationToken)
    {
        var readIndex = CommittedIndex;
        while (AppliedIndex < readIndex)
        {
            var signal = Volatile.Read(ref appliedSignal);
            if (AppliedIndex >= readIndex) break;
            await signal.Task.WaitAsync(cancellationToken);
        }
    }

    private async Task RunApplyLoopAsync()
    {
        var batch = new List<Pending>(MaxApplyBatchEntries);
        var results = new List<object>(MaxApplyBatchEntries);
        try
        {
            while (await applyQueue.Reader.WaitToReadAsync())
            {
                batch.Clear();
                results.Clear();
                await TakeDurableBatchAsync(batch);
                Volatile.Write(ref committedIndex, batch[^1].Entry.Index);
                ApplyBatch(batch, results);
                Volatile.Write(ref appliedIndex, batch[^1].Entry.Index);
                Interlocked.Exchange(ref appliedSignal, NewSignal()).TrySetResult();
                CompleteWaiters(batch, results);
                ReleaseWalIfDue();
            }
        }
        catch (ObjectDisposedException) when (stopped)
        {
            // Shut down while entries were in flight: their proposers get "server stopped" below.
        }
        catch (Exception exception)
        {
            // A failed fsync or a failed backend commit leaves the member in an unknown state; like etcd, stop.
            logger.LogCritical(exception, "Apply loop failed; the member cannot continue safely");
            Environment.FailFast("HttpKv apply loop failed: " + exception.Message, exception);
        }
        FailAllWaiters();
    }

    /// <summary>Waits for the first queued entry to be durable, then takes every following entry that already is.</summary>
    private async Task TakeDurableBatchAsync(List<Pending> batch)
    {
        var reader = applyQueue.Reader;
        reader.TryRead(out var first);
        await first.Durable;
        batch.Add(first);
        while (batch.Count < MaxApplyBatchEntries && reader.TryPeek(out var next) && next.Durable.IsCompleted)
        {
            reader.TryRead(out next);
            await next.Durable;
            batch.Add(next);
        }
    }

    private void ApplyBatch(List<Pending> batch, List<object> results)
    {
        using var apply = store.BeginApply();
        foreach (var pending in batch)
        {
            try { results.Add(apply.Apply(pending.Entry.Index, pending.Request)); }
            catch (EtcdException exception) { results.Add(exception); }
        }
        apply.Commit();
    }

    private void CompleteWaiters(List<Pending> batch, List<object> results)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (!waiters.TryRemove(batch[i].Request.Id, out var waiter)) continue;
            if (results[i] is EtcdException failure) waiter.TrySetException(failure);
            else waiter.TrySetResult((IMessage)results[i]);
        }
    }

    /// <summary>Every <c>--snapshot-count</c> applied entries, syncs the backend and deletes the WAL segments it now
    /// holds, in the background, so the WAL on disk (and its replay at start) stays bounded.</summary>
    private void ReleaseWalIfDue()
    {
        if (AppliedIndex - releasedThroughIndex < snapshotCount || !release.IsCompleted) return;
        release = Task.Run(() =>
        {
            var durableIndex = store.ConsistentIndex;
            try
            {
                store.Sync();
                var segments = wal.ReleaseBefore(durableIndex + 1);
                releasedThroughIndex = durableIndex;
                logger.LogInformation("Backend synced at index {Index}; released {Segments} WAL segments before it", durableIndex, segments);
            }
            catch (IOException exception)
            {
                // Nothing is lost: the WAL keeps the segments and the next round tries again.
                logger.LogWarning(exception, "Could not sync the backend or release WAL segments at index {Index}", durableIndex);
            }
        });
    }

    private void FailAllWaiters()
    {
        foreach (var id in waiters.Keys)
        {
            if (waiters.TryRemove(id, out var waiter)) waiter.TrySetException(EtcdErrors.Stopped.ToException());
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        lock (appendLock)
        {
            if (stopped) return;
            stopped = true;
            applyQueue.Writer.TryComplete();
        }
        await applyLoop;
        await release;
        store.Sync();
    }
}
