using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Robustness.Workload;

/// <summary>Watches the workload's key prefix on one member from revision 1, as a client that must not miss
/// anything: when the stream breaks it reconnects (to the next member if need be) and resumes from the revision
/// after the last one it saw; when that revision has been compacted meanwhile, it records the gap etcd reports and
/// resumes from the compact revision.</summary>
public sealed class Watcher(WatchLog log, IReadOnlyList<string> endpoints, int firstEndpoint)
{
    /// <summary>How long a watcher stays connected before it goes away for <see cref="Away"/>, as a client restarting
    /// or on a bad network would; away longer than the compactor's retention, it meets compacted revisions.</summary>
    private static readonly TimeSpan Stay = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Away = TimeSpan.FromSeconds(1.5);

    public async Task RunAsync(string prefix, CancellationToken stop)
    {
        var endpoint = firstEndpoint;
        var next = log.StartRevision;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var channel = GrpcChannel.ForAddress(endpoints[endpoint]);
                using var call = new Etcdserverpb.Watch.WatchClient(channel).Watch(cancellationToken: stop);
                var key = ByteString.CopyFromUtf8(prefix);
                var end = ByteString.CopyFromUtf8(prefix[..^1] + (char)(prefix[^1] + 1));
                await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key, RangeEnd = end, StartRevision = next } }, stop);
                var connected = System.Diagnostics.Stopwatch.StartNew();
                while (connected.Elapsed < Stay && await call.ResponseStream.MoveNext(stop))
                {
                    var response = call.ResponseStream.Current;
                    if (response.Canceled && response.CompactRevision > next)
                    {
                        lock (log.Events) log.CompactedGaps.Add((next, response.CompactRevision - 1));
                        next = response.CompactRevision; // as a client must: resync from what is left
                        break;
                    }
                    if (response.Canceled) throw new InvalidOperationException($"watch cancelled: {response.CancelReason} (compact revision {response.CompactRevision})");
                    foreach (var change in response.Events)
                    {
                        lock (log.Events)
                        {
                            log.Events.Add(new SeenEvent(change.Kv.ModRevision, change.Kv.Key.ToStringUtf8(),
                                change.Type == Mvccpb.Event.Types.EventType.Delete, change.Type == Mvccpb.Event.Types.EventType.Delete ? null : change.Kv.Value.ToStringUtf8()));
                        }
                        next = Math.Max(next, change.Kv.ModRevision + 1);
                    }
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
            log.Reconnects++;
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
}
