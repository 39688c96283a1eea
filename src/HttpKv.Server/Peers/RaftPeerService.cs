using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol.Peer;
using HttpKv.Server.Metrics;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Peers;

/// <summary>The receiving end of <see cref="PeerTransport"/>, served on --listen-peer-urls: Raft messages and
/// snapshots from the other members, the cluster's ID and members for a member that joins, and hashes for corruption checks.</summary>
public sealed class RaftPeerService(MemberHost host, IMaintenanceService maintenance, IClusterService cluster, ILogger<RaftPeerService> logger) : RaftPeer.RaftPeerBase
{
    public override async Task<PeerAck> Stream(IAsyncStreamReader<PeerMessages> requestStream, ServerCallContext context)
    {
        var member = await host.Opened;
        ulong from = 0;
        long batches = 0, dropped = 0;
        Prometheus.Counter.Child? received = null;
        try
        {
            await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken))
            {
                CheckCluster(member, batch.ClusterId, batch.From);
                if (from == 0)
                {
                    logger.LogInformation("Stream from peer {PeerId:x16} opened", from = batch.From);
                    received = ServerMetrics.PeerReceivedBytes.WithLabels(ServerMetrics.PeerLabel(from));
                }
                batches++;
                var bytes = 0L;
                foreach (var message in batch.Messages)
                {
                    bytes += message.Length;
                    if (!Decoded((member, message), static state => state.member.Log.Deliver(state.message.Memory)) && dropped++ == 0)
                        logger.LogWarning("Dropping messages from peer {PeerId:x16}: the Raft loop is saturated or stopping", batch.From);
                }
                received!.Inc(bytes); // once a batch: a counter's add is an atomic loop
            }
            logger.LogInformation("Stream from peer {PeerId:x16} completed after {Batches} batches ({Dropped} messages dropped)", from, batches, dropped);
        }
        catch (Exception exception)
        {
            logger.LogInformation("Stream from peer {PeerId:x16} ended after {Batches} batches ({Dropped} messages dropped): {Error}",
                from, batches, dropped, exception.Message);
            ServerMetrics.PeerReceivedFailures.WithLabels(from != 0 ? ServerMetrics.PeerLabel(from) : context.Peer).Inc();
            throw;
        }
        return new PeerAck();
    }

    public override async Task<PeerAck> Snapshot(IAsyncStreamReader<SnapshotChunk> requestStream, ServerCallContext context)
    {
        var member = await host.Opened;
        var path = Path.Combine(Path.GetFullPath(member.Options.ResolvedDataDir), "member", "snap", $"incoming-{Guid.NewGuid():N}.db");
        byte[]? message = null;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var from = UnknownSnapshotSender; // etcd's label for a sender not known yet
        Prometheus.Gauge.Child? inflight = null;
        long bytes = 0;
        try
        {
            await using (var file = File.Create(path))
            {
                await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
                {
                    if (message is null)
                    {
                        CheckCluster(member, chunk.ClusterId, chunk.From);
                        from = ServerMetrics.PeerLabel(chunk.From);
                        inflight = ServerMetrics.SnapshotReceives.InFlight(from);
                        inflight.Inc();
                        message = chunk.Message.ToByteArray();
                        bytes += message.Length;
                    }
                    bytes += chunk.Data.Length;
                    if (!chunk.Data.IsEmpty) await file.WriteAsync(chunk.Data.Memory, context.CancellationToken);
                    if (chunk.Last) break;
                }
                await file.FlushAsync(context.CancellationToken);
                var syncing = System.Diagnostics.Stopwatch.GetTimestamp();
                file.Flush(flushToDisk: true);
                ServerMetrics.SnapshotDbFsync.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(syncing).TotalSeconds);
            }
            ServerMetrics.SnapshotDbSave.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            if (message is null) throw new RpcException(new Status(StatusCode.InvalidArgument, "snapshot stream without a Raft message"));
            logger.LogInformation("Received a snapshot backend of {Bytes} bytes", new FileInfo(path).Length);
            if (!Decoded((member, message, path), static state => state.member.Log.ReceiveSnapshot(state.message, state.path))) throw new RpcException(new Status(StatusCode.Unavailable, "member is busy or stopping"));
            ServerMetrics.SnapshotReceives.Succeeded(from, bytes, started);
            return new PeerAck();
        }
        catch
        {
            File.Delete(path);
            ServerMetrics.SnapshotReceives.Failed(from);
            throw;
        }
        finally
        {
            inflight?.Dec();
        }
    }

    private const string UnknownSnapshotSender = "UNKNOWN_SNAPSHOT_SENDER";

    public override async Task<HelloResponse> Hello(HelloRequest request, ServerCallContext context)
    {
        var member = await host.Opened;
        var response = new HelloResponse { ClusterId = member.Identity.ClusterId };
        response.Members.AddRange(member.Log.Members);
        return response;
    }

    /// <summary>This member's HashKV at the asked revision, for a peer's corruption check; served once the member is
    /// open (before it is ready), so that a member starting with the initial check can compare with running ones.</summary>
    public override async Task<Etcdserverpb.HashKVResponse> HashKV(PeerHashRequest request, ServerCallContext context)
    {
        var member = await host.Opened;
        CheckCluster(member, request.ClusterId, request.From);
        try
        {
            return member.Stores.Read(store => new Etcdserverpb.HashKVResponse
            {
                Header = member.Header(store.CurrentRevision),
                Hash = store.HashKv(request.Revision, out var compacted),
                CompactRevision = compacted,
                HashRevision = request.Revision,
            });
        }
        catch (Protocol.EtcdException exception)
        {
            throw new RpcException(new Status(exception.Error.Code, exception.Message));
        }
    }

    /// <summary>This member's Status, for a peer that shows the whole cluster.</summary>
    public override async Task<Etcdserverpb.StatusResponse> Status(PeerStatusRequest request, ServerCallContext context)
    {
        var member = await host.Opened;
        CheckCluster(member, request.ClusterId, request.From);
        return await maintenance.StatusAsync(new Etcdserverpb.StatusRequest(), context.CancellationToken);
    }

    /// <summary>A learner's promotion forwarded by a member that is not the leader; this member judges it as the leader.</summary>
    public override async Task<Etcdserverpb.MemberPromoteResponse> Promote(PeerPromoteRequest request, ServerCallContext context)
    {
        var member = await host.Opened;
        CheckCluster(member, request.ClusterId, request.From);
        return await cluster.ForwardedPromoteAsync(request.Id, context.CancellationToken);
    }

    /// <summary>A peer's malformed Raft message ends its call with InvalidArgument.</summary>
    /// <summary>Hands a peer's message to the log (decoded there, straight from the bytes received); a malformed one
    /// fails the peer's call. The state and a static delegate: no closure per message.</summary>
    private static bool Decoded<TState>(TState state, Func<TState, bool> deliver)
    {
        try
        {
            return deliver(state);
        }
        catch (FormatException exception)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "malformed raft message: " + exception.Message));
        }
    }

    private static void CheckCluster(Member member, ulong clusterId, ulong from)
    {
        if (member.Log.IsRemoved(from)) throw new RpcException(new Status(StatusCode.FailedPrecondition, PeerTransport.RemovedMemberError));
        if (clusterId != member.Identity.ClusterId)
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"request cluster ID mismatch: member {from:x16} is in cluster {clusterId:x16}, this member in {member.Identity.ClusterId:x16}"));
    }
}
