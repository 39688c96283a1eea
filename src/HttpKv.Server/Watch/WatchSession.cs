using System.Threading.Channels;
using Etcdserverpb;
using HttpKv.Protocol;

namespace HttpKv.Server.Watch;

/// <summary>One watch stream (a gRPC Watch call or a /v3/watch request), as etcd's serverWatchStream: create
/// requests start watchers (client-chosen watch_id, or the next free id from 0), cancel requests stop them,
/// progress requests answer with a revision every watcher of the stream has sent all its events through. Responses come out of <see cref="Responses"/> in order:
/// a watcher's created response before its events. Bounded: a slow client stalls the pumps, so watchers fall
/// behind into their own bounded queues and catch up from history.</summary>
public sealed class WatchSession : IAsyncDisposable
{
    private const int MaxPendingResponses = 64;

    /// <summary>The responses waiting for the client may hold this many bytes (one response more when none waits):
    /// with history chunks of up to 4 MiB, a count alone would let a slow client pin 64 of them.</summary>
    public const long MaxPendingBytes = 4 << 20;

    /// <summary>etcd's default --experimental-watch-progress-notify-interval.</summary>
    public static readonly TimeSpan DefaultProgressNotifyInterval = TimeSpan.FromMinutes(10);

    private readonly Func<long, ResponseHeader> header;
    private readonly WatchHub hub;
    private readonly TimeSpan progressNotifyInterval;
    private readonly int fragmentLimitBytes;
    private readonly Channel<WatchResponse> responses = Channel.CreateBounded<WatchResponse>(
        new BoundedChannelOptions(MaxPendingResponses) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Dictionary<long, (Watcher Watcher, CancellationTokenSource Stop, Task Pump)> watchers = [];
    private readonly CancellationTokenSource closing = new();
    private readonly Lock budgetGate = new();
    private long pendingBytes;
    private TaskCompletionSource? budgetFreed;
    private long nextWatchId;
    private int progressPending;

    /// <summary>How often a deferred progress request checks whether the watchers have caught up.</summary>
    private static readonly TimeSpan ProgressRetry = TimeSpan.FromMilliseconds(10);

    /// <summary>What etcd's watch server adds to --max-request-bytes for its fragment limit (its gRPC overhead).</summary>
    public const int FragmentOverheadBytes = 512 * 1024;

    public WatchSession(Member member)
        : this(member.Watches, member.Header, fragmentLimitBytes: member.Options.MaxRequestBytes + FragmentOverheadBytes)
    {
    }

    /// <param name="header">the response header for a revision.</param>
    /// <param name="progressNotifyInterval">how often a watcher created with progress_notify that received nothing
    /// meanwhile gets an empty response with the current revision (etcd's default: 10 minutes).</param>
    /// <param name="fragmentLimitBytes">a watcher created with fragment=true gets responses of this size or more
    /// split into fragments (see <see cref="WatchFragments"/>); etcd's limit is --max-request-bytes + 512 KiB.</param>
    public WatchSession(WatchHub hub, Func<long, ResponseHeader> header, TimeSpan? progressNotifyInterval = null, int fragmentLimitBytes = int.MaxValue)
    {
        this.hub = hub;
        this.header = header;
        this.progressNotifyInterval = progressNotifyInterval ?? DefaultProgressNotifyInterval;
        this.fragmentLimitBytes = fragmentLimitBytes;
        Responses = new BudgetedReader(this, responses.Reader);
        Metrics.WatchMetrics.Streams.Inc();
    }

    private int disposed;

    /// <summary>The responses for the client, in order; taking one frees its bytes for the next.</summary>
    public ChannelReader<WatchResponse> Responses { get; }

    /// <summary>Checks each create request (the caller's read permission on its range); throws an EtcdException to
    /// refuse it, which the client sees as etcd shows it: a created-and-cancelled response with watch ID -1.</summary>
    public Func<WatchCreateRequest, ValueTask>? Authorize { get; init; }

    /// <summary>Handles one request from the client; call from one reader at a time.</summary>
    public async Task HandleAsync(WatchRequest request, CancellationToken cancellationToken)
    {
        switch (request.RequestUnionCase)
        {
            case WatchRequest.RequestUnionOneofCase.CreateRequest:
                await CreateAsync(request.CreateRequest, cancellationToken);
                break;
            case WatchRequest.RequestUnionOneofCase.CancelRequest:
                await CancelAsync(request.CancelRequest.WatchId, cancellationToken);
                break;
            case WatchRequest.RequestUnionOneofCase.ProgressRequest:
                await RequestProgressAsync(cancellationToken);
                break;
        }
    }

    private bool TryProgress(out long revision)
    {
        List<Watcher> current;
        lock (watchers) current = [.. watchers.Values.Select(entry => entry.Watcher)];
        return hub.TryProgress(current, out revision);
    }

    /// <summary>A progress request is answered with a revision through which every watcher of the stream has sent all
    /// its events, never ahead of them: at once when they all have, else as soon as they have (etcd defers it the
    /// same way while a watcher is unsynced). Requests made while one waits are answered by it.</summary>
    private async Task RequestProgressAsync(CancellationToken cancellationToken)
    {
        if (TryProgress(out var revision))
        {
            await SendAsync(new WatchResponse { Header = header(revision), WatchId = -1 }, cancellationToken);
            return;
        }
        if (Interlocked.Exchange(ref progressPending, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                long through;
                while (!TryProgress(out through)) await Task.Delay(ProgressRetry, closing.Token);
                await SendAsync(new WatchResponse { Header = header(through), WatchId = -1 }, closing.Token);
            }
            catch (OperationCanceledException)
            {
                // the stream closed
            }
            catch (ChannelClosedException)
            {
                // the stream closed
            }
            finally
            {
                Volatile.Write(ref progressPending, 0);
            }
        }, CancellationToken.None);
    }

    private async Task CreateAsync(WatchCreateRequest create, CancellationToken cancellationToken)
    {
        if (Authorize is not null)
        {
            try
            {
                await Authorize(create);
            }
            catch (EtcdException refused)
            {
                await SendAsync(new WatchResponse
                {
                    Header = header(hub.Revision), WatchId = -1, Created = true, Canceled = true,
                    CancelReason = $"rpc error: code = {refused.Error.Code} desc = {refused.Error.Message}",
                }, cancellationToken);
                return;
            }
        }
        long id;
        lock (watchers)
        {
            id = create.WatchId;
            if (id == 0)
            {
                while (watchers.ContainsKey(nextWatchId)) nextWatchId++;
                id = nextWatchId++;
            }
        }
        bool duplicate;
        lock (watchers) duplicate = watchers.ContainsKey(id);
        if (duplicate || id < 0)
        {
            await SendAsync(new WatchResponse
            {
                Header = header(hub.Revision), WatchId = id, Created = true, Canceled = true,
                CancelReason = "mvcc: duplicate watch ID provided on the WatchStream",
            }, cancellationToken);
            return;
        }
        var spec = new WatchSpec(create.Key.ToByteArray(), create.RangeEnd.ToByteArray(), create.StartRevision,
            NoPut: create.Filters.Contains(WatchCreateRequest.Types.FilterType.Noput),
            NoDelete: create.Filters.Contains(WatchCreateRequest.Types.FilterType.Nodelete),
            PrevKv: create.PrevKv);
        var watcher = hub.Watch(spec);
        await SendAsync(new WatchResponse { Header = header(hub.Revision), WatchId = id, Created = true }, cancellationToken);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
        lock (watchers) watchers[id] = (watcher, stop, Task.Run(() => PumpAsync(id, watcher, create, stop.Token), CancellationToken.None));
    }

    private async Task PumpAsync(long id, Watcher watcher, WatchCreateRequest create, CancellationToken cancellationToken)
    {
        var progressNotify = create.ProgressNotify;
        try
        {
            while (true)
            {
                var read = watcher.ReadAsync(cancellationToken).AsTask();
                // progress_notify: a synced watcher that received nothing for an interval is told the current revision, as etcd.
                while (progressNotify && await Task.WhenAny(read, Task.Delay(progressNotifyInterval, cancellationToken)) != read)
                {
                    if (hub.TryProgress([watcher], out var through)) await SendAsync(new WatchResponse { Header = header(through), WatchId = id }, cancellationToken);
                }
                if (await read is not { } batch) return;
                if (batch.CompactRevision != 0)
                {
                    // As etcd's: the compact revision says why; the header has no revision and there is no cancel reason
                    // (clients turn the compact revision into "required revision has been compacted" themselves).
                    await SendAsync(new WatchResponse
                    {
                        Header = header(0), WatchId = id, Canceled = true, CompactRevision = batch.CompactRevision,
                    }, cancellationToken);
                    lock (watchers) watchers.Remove(id);
                    watcher.Delivered();
                    watcher.Dispose();
                    return;
                }
                var response = new WatchResponse { Header = header(batch.Revision), WatchId = id };
                response.Events.AddRange(batch.Events);
                if (!create.Fragment) await SendAsync(response, cancellationToken);
                else
                {
                    foreach (var part in WatchFragments.Split(response, fragmentLimitBytes)) await SendAsync(part, cancellationToken);
                }
                watcher.Delivered();
            }
        }
        catch (OperationCanceledException)
        {
            // cancelled or the stream closed
        }
        catch (ChannelClosedException)
        {
            // the stream closed
        }
    }

    private async Task CancelAsync(long id, CancellationToken cancellationToken)
    {
        (Watcher Watcher, CancellationTokenSource Stop, Task Pump) entry;
        lock (watchers)
        {
            if (!watchers.Remove(id, out entry)) return; // as etcd: cancelling an unknown watch answers nothing
        }
        await entry.Stop.CancelAsync();
        entry.Watcher.Dispose();
        await entry.Pump;
        await SendAsync(new WatchResponse { Header = header(hub.Revision), WatchId = id, Canceled = true }, cancellationToken);
    }

    /// <summary>Queues a response for the client once the pending bytes allow it (see <see cref="MaxPendingBytes"/>).</summary>
    private async ValueTask SendAsync(WatchResponse response, CancellationToken cancellationToken)
    {
        long size = response.CalculateSize();
        while (true)
        {
            Task freed;
            lock (budgetGate)
            {
                if (pendingBytes == 0 || pendingBytes + size <= MaxPendingBytes)
                {
                    pendingBytes += size;
                    break;
                }
                freed = (budgetFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            await freed.WaitAsync(cancellationToken);
        }
        try
        {
            await responses.Writer.WriteAsync(response, cancellationToken);
        }
        catch
        {
            Release(size);
            throw;
        }
    }

    private void Release(long size)
    {
        TaskCompletionSource? freed;
        lock (budgetGate)
        {
            pendingBytes -= size;
            freed = budgetFreed;
            budgetFreed = null;
        }
        freed?.TrySetResult();
    }

    /// <summary>The response channel's reader that gives a response's bytes back to the budget when it is taken.</summary>
    private sealed class BudgetedReader(WatchSession session, ChannelReader<WatchResponse> inner) : ChannelReader<WatchResponse>
    {
        public override Task Completion => inner.Completion;

        public override bool TryRead([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out WatchResponse item)
        {
            if (!inner.TryRead(out item)) return false;
            session.Release(item.CalculateSize());
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);

        public override bool CanPeek => inner.CanPeek;

        public override bool TryPeek([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out WatchResponse item) => inner.TryPeek(out item);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0) Metrics.WatchMetrics.Streams.Dec();
        await closing.CancelAsync();
        List<(Watcher Watcher, CancellationTokenSource Stop, Task Pump)> all;
        lock (watchers)
        {
            all = [.. watchers.Values];
            watchers.Clear();
        }
        foreach (var (watcher, stop, pump) in all)
        {
            watcher.Dispose();
            await pump;
            stop.Dispose();
        }
        responses.Writer.TryComplete();
        closing.Dispose();
    }
}
