using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Protocol.Peer;
using HttpKv.Server.Metrics;
using HttpKv.Server.Transport;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Peers;

/// <summary>Carries encoded Raft messages to the other members over their peer URLs: one long-lived gRPC stream per
/// peer, fed by a bounded queue and written in batches. Raft tolerates loss, so when a queue is full or a peer is
/// down the message is dropped and the caller told (it reports the peer unreachable to Raft).</summary>
public sealed class PeerTransport(ulong localId, ulong clusterId, TlsEndpointSecurity tls, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    public const int MaxQueuedMessagesPerPeer = 4096;
    private const int MaxMessagesPerBatch = 256;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>A write to a peer's stream that has not completed in this long means the connection carries nothing
    /// (a peer that accepted the connection and never answered, a half-dead path): it is replaced by a new one, as
    /// etcd's 5 s write timeout on peer connections does. Without it such a stream stays "connected" for good while
    /// every message to that peer is dropped.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<ulong, PeerConnection> peers = new();
    private readonly ILogger logger = loggerFactory.CreateLogger<PeerTransport>();

    /// <summary>The text a member answers to a peer the cluster removed, as etcd's.</summary>
    public const string RemovedMemberError = "the member has been permanently removed from the cluster";

    /// <summary>Raised when a peer refuses this member because the cluster removed it.</summary>
    public event Action? RemovedByPeer;

    public ulong ClusterId => clusterId;
    /// <summary>How this member dials the others' peer URLs (TLS for https ones).</summary>
    public TlsEndpointSecurity Tls { get; } = tls;
    public ulong LocalId => localId;

    public void AddOrUpdatePeer(ulong id, IReadOnlyList<string> peerUrls)
    {
        if (id == localId || peerUrls.Count == 0) return;
        if (peers.TryGetValue(id, out var existing) && existing.Url == peerUrls[0]) return;
        var connection = new PeerConnection(id, peerUrls[0], this);
        if (peers.TryGetValue(id, out existing) ? peers.TryUpdate(id, connection, existing) : peers.TryAdd(id, connection))
        {
            if (existing is not null) _ = existing.DisposeAsync();
        }
        else
        {
            _ = connection.DisposeAsync(); // changed under us by another caller: theirs stands
        }
    }

    public void RemovePeer(ulong id)
    {
        if (peers.TryRemove(id, out var removed)) _ = removed.DisposeAsync();
    }

    /// <summary>How long this member has reached peer <paramref name="id"/> without a failure (its Raft stream and its
    /// probe); zero for a peer it cannot reach now, or one it does not know.</summary>
    public TimeSpan ActiveFor(ulong id) => peers.TryGetValue(id, out var peer) ? peer.Activity.ActiveFor : TimeSpan.Zero;

    /// <summary>Queues one encoded Raft message for <paramref name="to"/>; false when it cannot be sent now.</summary>
    public bool Send(ulong to, byte[] message)
    {
        if (peers.TryGetValue(to, out var peer) && peer.TryEnqueue(message)) return true;
        ServerMetrics.PeerSentFailures.WithLabels(ServerMetrics.PeerLabel(to)).Inc();
        return false;
    }

    /// <summary>Sends a Raft snapshot message and the backend's bytes; completes when the peer has them all.</summary>
    public async Task SendSnapshotAsync(ulong to, byte[] message, Stream data, CancellationToken cancellationToken)
    {
        var label = ServerMetrics.PeerLabel(to);
        var inflight = ServerMetrics.SnapshotSends.InFlight(label);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long sent = message.Length;
        inflight.Inc();
        try
        {
            using var call = Peer(to).Client.Snapshot(cancellationToken: cancellationToken);
            var buffer = new byte[1 << 20];
            await call.RequestStream.WriteAsync(new SnapshotChunk { From = LocalId, ClusterId = ClusterId, Message = ByteString.CopyFrom(message) }, cancellationToken);
            int read;
            while ((read = await data.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await call.RequestStream.WriteAsync(new SnapshotChunk { Data = ByteString.CopyFrom(buffer, 0, read) }, cancellationToken);
                sent += read;
            }
            await call.RequestStream.WriteAsync(new SnapshotChunk { Last = true }, cancellationToken);
            await call.RequestStream.CompleteAsync();
            await call;
        }
        catch
        {
            ServerMetrics.SnapshotSends.Failed(label);
            throw;
        }
        finally
        {
            inflight.Dec();
        }
        ServerMetrics.SnapshotSends.Succeeded(label, sent, started);
    }

    private PeerConnection Peer(ulong id) =>
        peers.TryGetValue(id, out var peer) ? peer : throw new InvalidOperationException($"unknown peer {id:x16}");

    /// <summary>Asks peer <paramref name="to"/> for its HashKV at <paramref name="revision"/>.</summary>
    public async Task<Etcdserverpb.HashKVResponse> HashKVAsync(ulong to, long revision, TimeSpan timeout, CancellationToken cancellationToken)
    {
        return await Peer(to).Client.HashKVAsync(new PeerHashRequest { From = LocalId, ClusterId = ClusterId, Revision = revision },
            deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
    }

    /// <summary>Asks peer <paramref name="to"/> for its Status.</summary>
    public async Task<Etcdserverpb.StatusResponse> StatusAsync(ulong to, TimeSpan timeout, CancellationToken cancellationToken)
    {
        return await Peer(to).Client.StatusAsync(new PeerStatusRequest { From = LocalId, ClusterId = ClusterId },
            deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
    }

    /// <summary>Asks peer <paramref name="to"/>, the leader, to promote learner <paramref name="id"/>.</summary>
    public async Task<Etcdserverpb.MemberPromoteResponse> PromoteAsync(ulong to, ulong id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        return await Peer(to).Client.PromoteAsync(new PeerPromoteRequest { From = LocalId, ClusterId = ClusterId, Id = id },
            deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in peers.Keys) RemovePeer(id);
        await Task.CompletedTask;
    }

    /// <summary>The stream to one peer and its queue.</summary>
    private sealed class PeerConnection : IAsyncDisposable
    {
        private readonly ulong id;
        private readonly PeerTransport owner;
        private GrpcChannel channel;
        private readonly Channel<byte[]> queue = Channel.CreateBounded<byte[]>(
            // Wait, not DropWrite: with DropWrite TryWrite answers true for a message it drops, so a full queue (a stream
            // that no longer drains) was never reported to Raft. TryWrite never waits in either mode.
            new BoundedChannelOptions(MaxQueuedMessagesPerPeer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        private readonly CancellationTokenSource stopping = new();
        private readonly Task sender;
        private bool connected;

        public PeerConnection(ulong id, string url, PeerTransport owner)
        {
            this.id = id;
            this.owner = owner;
            Url = url;
            channel = NewChannel();
            client = new RaftPeer.RaftPeerClient(channel);
            Activity = new PeerActivity(owner.LocalId, id, owner.logger); // before the loops that use it start
            sentBytes = ServerMetrics.PeerSentBytes.WithLabels(ServerMetrics.PeerLabel(id));
            sentFailures = ServerMetrics.PeerSentFailures.WithLabels(ServerMetrics.PeerLabel(id));
            sender = Task.Run(SendLoopAsync);
            prober = PeerProbe.RunAsync(id, () => client, Activity, stopping.Token);
        }

        public PeerActivity Activity { get; }
        private readonly Prometheus.Counter.Child sentBytes;
        private readonly Prometheus.Counter.Child sentFailures;

        private readonly Task prober;

        private volatile RaftPeer.RaftPeerClient client;

        public string Url { get; }
        public RaftPeer.RaftPeerClient Client => client;

        private GrpcChannel NewChannel() =>
            owner.Tls.CreateChannel(Url, new GrpcChannelOptions { MaxSendMessageSize = null, MaxReceiveMessageSize = null });

        /// <summary>Drops the channel (and its HTTP/2 connections) for a new one: a new call on the old channel could
        /// land on the same stalled connection.</summary>
        private void Reconnect()
        {
            var old = channel;
            channel = NewChannel();
            client = new RaftPeer.RaftPeerClient(channel);
            old.Dispose();
        }

        private int full;

        public bool TryEnqueue(byte[] message)
        {
            if (queue.Writer.TryWrite(message))
            {
                Volatile.Write(ref full, 0);
                return true;
            }
            if (!stopping.IsCancellationRequested && Interlocked.Exchange(ref full, 1) == 0)
                owner.logger.LogWarning("The queue to peer {PeerId:x16} at {Url} is full ({Queued} messages, connected: {Connected}); dropping messages",
                    id, Url, MaxQueuedMessagesPerPeer, connected);
            return false;
        }

        private async Task SendLoopAsync()
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    if (!await StreamAsync()) continue;
                    if (stopping.IsCancellationRequested) return;
                    owner.logger.LogWarning("The stream to peer {PeerId:x16} at {Url} took no data for {Seconds} s; reconnecting on a new connection",
                        id, Url, StallTimeout.TotalSeconds);
                    sentFailures.Inc();
                    Disconnect("its stream took no data for " + StallTimeout.TotalSeconds + " s");
                    Reconnect();
                }
                catch (Exception exception) when (exception is RpcException or IOException or HttpRequestException or OperationCanceledException)
                {
                    if (stopping.IsCancellationRequested) return;
                    if (exception is RpcException { StatusCode: StatusCode.FailedPrecondition } refused && refused.Status.Detail == RemovedMemberError)
                    {
                        owner.RemovedByPeer?.Invoke();
                    }
                    if (connected)
                    {
                        owner.logger.LogWarning("Lost the stream to peer {PeerId:x16} at {Url}: {Error}", id, Url, exception.Message);
                        sentFailures.Inc();
                    }
                    if (!await DisconnectAndWaitAsync(exception.Message)) return;
                }
                catch (Exception exception) when (!stopping.IsCancellationRequested)
                {
                    owner.logger.LogError(exception, "The stream to peer {PeerId:x16} at {Url} failed unexpectedly", id, Url);
                    sentFailures.Inc();
                    if (!await DisconnectAndWaitAsync(exception.Message)) return;
                }
            }
        }

        /// <summary>Forgets the stream and what was queued for it: Raft resends what matters.</summary>
        private void Disconnect(string reason)
        {
            connected = false;
            Activity.Deactivate(reason);
            while (queue.Reader.TryRead(out _)) { }
        }

        /// <summary><see cref="Disconnect"/>, then a pause before the next try; false when the transport is stopping.</summary>
        private async Task<bool> DisconnectAndWaitAsync(string reason)
        {
            Disconnect(reason);
            try
            {
                await Task.Delay(ReconnectDelay, stopping.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>Streams queued messages until the stream fails (an exception) or stalls (true).</summary>
        private async Task<bool> StreamAsync()
        {
            await queue.Reader.WaitToReadAsync(stopping.Token);
            using var call = Client.Stream(cancellationToken: stopping.Token);
            var batch = new PeerMessages { From = owner.LocalId, ClusterId = owner.ClusterId };
            while (await queue.Reader.WaitToReadAsync(stopping.Token))
            {
                batch.Messages.Clear();
                var bytes = 0;
                while (batch.Messages.Count < MaxMessagesPerBatch && queue.Reader.TryRead(out var message))
                {
                    batch.Messages.Add(UnsafeByteOperations.UnsafeWrap(message)); // encoded for this send only, never changed: no copy
                    bytes += message.Length;
                }
                var write = call.RequestStream.WriteAsync(batch, stopping.Token);
                try
                {
                    await write.WaitAsync(StallTimeout, stopping.Token);
                }
                catch (TimeoutException)
                {
                    // Disposing the call (leaving this scope) cancels the write; its failure is of no further interest.
                    _ = write.ContinueWith(static task => _ = task.Exception, CancellationToken.None,
                        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    return true;
                }
                if (!connected) owner.logger.LogInformation("Streaming to peer {PeerId:x16} at {Url}", id, Url);
                connected = true;
                Activity.Activate(); // a read and a compare once active
                sentBytes.Inc(bytes);
            }
            return false;
        }

        public async ValueTask DisposeAsync()
        {
            stopping.Cancel();
            queue.Writer.TryComplete();
            try { await sender; } catch (OperationCanceledException) { }
            await prober;
            channel.Dispose();
        }
    }
}
