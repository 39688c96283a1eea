using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Robustness.Workload;

/// <summary>Watches the whole keyspace on one member from revision 1, as a client that must not miss anything, and
/// records the events of the workload's prefix: when the stream breaks it reconnects (to the next member if need be)
/// and resumes from the revision after the last one it saw; when that revision has been compacted meanwhile, it
/// records the gap etcd reports and resumes from the compact revision. It asks for prev_kv, numbers the responses (so
/// the checker sees which events came together) and, every few hundred milliseconds, asks for a progress notification
/// (WatchProgressRequest). Every revision changes some key, so it checks as it goes that revisions come one by one
/// (<see cref="WatchLog.Saw"/>): a gap is pinned to the member and the moment that made it, whatever happens to that
/// member later.</summary>
public sealed class Watcher(WatchLog log, IReadOnlyList<string> endpoints, IReadOnlyList<string> names, int firstEndpoint, Func<long>? clock = null)
{
    /// <summary>How long a watcher stays connected before it goes away for <see cref="Away"/>, as a client restarting
    /// or on a bad network would; away longer than the compactor's retention, it meets compacted revisions.</summary>
    private static readonly TimeSpan Stay = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Away = TimeSpan.FromSeconds(1.5);

    public async Task RunAsync(string prefix, CancellationToken stop)
    {
        var endpoint = firstEndpoint;
        var next = log.StartRevision;
        var responses = 0;
        var resync = false;
        var random = new Random(log.Id);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var channel = GrpcChannel.ForAddress(endpoints[endpoint]);
                using var call = new Etcdserverpb.Watch.WatchClient(channel).Watch(cancellationToken: stop);
                var everyKey = ByteString.CopyFrom(0);
                if (log.Events.Count > 0 || log.Reconnects > 0)
                {
                    lock (log.Events) log.Resumes.Add((log.Events.Count, next));
                }
                await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = everyKey, RangeEnd = everyKey, StartRevision = next, PrevKv = true } }, stop);
                using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop);
                var progress = RequestProgressAsync(call.RequestStream, random, connection.Token);
                var connected = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    while (connected.Elapsed < Stay && await call.ResponseStream.MoveNext(stop))
                    {
                        var response = call.ResponseStream.Current;
                        responses++;
                        if (response.WatchId == -1 && response.Events.Count == 0 && !response.Created && !response.Canceled)
                        {
                            lock (log.Events)
                            {
                                log.Progress.Add((log.Events.Count, response.Header.Revision));
                                log.Progressed(response.Header.Revision, names[endpoint], clock?.Invoke() ?? 0);
                            }
                            continue;
                        }
                        if (response.Canceled && response.CompactRevision > next)
                        {
                            lock (log.Events)
                            {
                                log.CompactedGaps.Add((next, response.CompactRevision - 1));
                                log.Compacted(response.CompactRevision);
                            }
                            next = response.CompactRevision; // as a client must: resync from what is left, at once
                            resync = true;
                            break;
                        }
                        if (response.Canceled) throw new InvalidOperationException($"watch from {next} cancelled: {response.CancelReason} (compact revision {response.CompactRevision}, header revision {response.Header.Revision}, member {response.Header.MemberId:x})");
                        foreach (var change in response.Events)
                        {
                            var key = change.Kv.Key.ToStringUtf8();
                            lock (log.Events)
                            {
                                log.Saw(change.Kv.ModRevision, names[endpoint], clock?.Invoke() ?? 0);
                                if (key.StartsWith(prefix, StringComparison.Ordinal))
                                    log.Events.Add(new SeenEvent(change.Kv.ModRevision, key,
                                    change.Type == Mvccpb.Event.Types.EventType.Delete, change.Type == Mvccpb.Event.Types.EventType.Delete ? null : change.Kv.Value.ToStringUtf8(),
                                    responses, change.PrevKv?.Value.ToStringUtf8(), change.PrevKv?.ModRevision ?? 0, clock?.Invoke() ?? 0));
                            }
                            next = Math.Max(next, change.Kv.ModRevision + 1);
                        }
                    }
                }
                finally
                {
                    await connection.CancelAsync();
                    await progress;
                }
            }
            catch (RpcException) when (!stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException)
            {
                return;
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException or ObjectDisposedException && !stop.IsCancellationRequested)
            {
                lock (log.Events) log.Errors.Add(exception.Message); // reported with the run; the watcher goes on elsewhere
            }
            lock (log.Events) log.Reconnects++;
            if (resync)
            {
                resync = false; // the same member, no pause: away again, it would find its revision compacted again
                continue;
            }
            endpoint = (endpoint + 1) % endpoints.Count;
            try
            {
                await Task.Delay(Away, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Asks for a progress notification now and then while the connection lasts.</summary>
    private static async Task RequestProgressAsync(IClientStreamWriter<WatchRequest> requests, Random random, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(100, 400)), stop);
                await requests.WriteAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, stop);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // the connection ended
        }
    }
}
