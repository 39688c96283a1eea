using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Robustness.Workload;

/// <summary>Watches the workload's key prefix on one member from revision 1, as a client that must not miss
/// anything: when the stream breaks it reconnects (to the next member if need be) and resumes from the revision
/// after the last one it saw.</summary>
public sealed class Watcher(WatchLog log, IReadOnlyList<string> endpoints, int firstEndpoint)
{
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
                while (await call.ResponseStream.MoveNext(stop))
                {
                    var response = call.ResponseStream.Current;
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
                await Task.Delay(200, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
