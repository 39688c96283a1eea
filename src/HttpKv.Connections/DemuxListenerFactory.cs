using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace HttpKv.Connections;

/// <summary>Serves gRPC (HTTP/2 with prior knowledge) and HTTP/1.1 on one plaintext port, as etcd does.
///
/// Kestrel turns an <c>Http1AndHttp2</c> endpoint without TLS into HTTP/1.1 only, and a connection middleware
/// runs too late to switch. So this transport binds the real socket once and offers Kestrel two virtual
/// endpoints for the address (<see cref="DemuxEndPoint"/>), one <c>Http1</c> and one <c>Http2</c>. Each accepted
/// socket is peeked (nothing consumed) for the 24-byte HTTP/2 client preface and handed to the matching one.</summary>
public sealed class DemuxListenerFactory(ILoggerFactory loggerFactory) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly ConcurrentDictionary<IPEndPoint, SharedSocket> sockets = new();
    private readonly SocketConnectionContextFactory contextFactory = new(new SocketConnectionFactoryOptions(), loggerFactory.CreateLogger<SocketConnectionContextFactory>());
    private readonly ILogger logger = loggerFactory.CreateLogger<DemuxListenerFactory>();

    public bool CanBind(EndPoint endpoint) => endpoint is DemuxEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var demux = (DemuxEndPoint)endpoint;
        var shared = sockets.GetOrAdd(demux.Address, address => new SharedSocket(address, contextFactory, logger, () => sockets.TryRemove(address, out _)));
        return ValueTask.FromResult<IConnectionListener>(shared.AddListener(demux));
    }

    /// <summary>The real listening socket of one address and its accept loop.</summary>
    private sealed class SharedSocket
    {
        /// <summary>The HTTP/2 client connection preface (RFC 9113 §3.4).</summary>
        private static readonly byte[] Http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
        private static readonly TimeSpan ClassifyTimeout = TimeSpan.FromSeconds(30);
        private const int MaxConnectionsBeingClassified = 1024;
        private const int SolSocket = 1, SoReuseAddr = 2; // <sys/socket.h> on Linux

        private readonly Socket socket;
        private readonly SocketConnectionContextFactory contextFactory;
        private readonly ILogger logger;
        private readonly Action onClosed;
        private readonly Lock gate = new();
        private readonly SemaphoreSlim classifying = new(MaxConnectionsBeingClassified);
        private readonly CancellationTokenSource stopping = new();
        private VirtualListener? http1;
        private VirtualListener? http2;
        private Task? acceptLoop;

        public SharedSocket(IPEndPoint address, SocketConnectionContextFactory contextFactory, ILogger logger, Action onClosed)
        {
            this.contextFactory = contextFactory;
            this.logger = logger;
            this.onClosed = onClosed;
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = address.Address.Equals(IPAddress.IPv6Any);
            // SO_REUSEADDR alone, so a restarted member binds over its old connections' TIME_WAIT. Not .NET's
            // ReuseAddress option: on Linux that sets SO_REUSEPORT too, and a second process would then bind the same
            // port and share its connections instead of being refused.
            if (!OperatingSystem.IsWindows()) socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            try
            {
                socket.Bind(address);
                socket.Listen(512);
            }
            catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                socket.Dispose();
                throw new AddressInUseException($"listen tcp {address}: bind: address already in use", exception);
            }
        }

        public VirtualListener AddListener(DemuxEndPoint endpoint)
        {
            lock (gate)
            {
                var listener = new VirtualListener(endpoint, this);
                if (endpoint.Protocol == HttpProtocols.Http2) http2 = listener;
                else http1 = listener;
                acceptLoop ??= Task.Run(AcceptLoopAsync);
                return listener;
            }
        }

        public void RemoveListener(VirtualListener listener)
        {
            lock (gate)
            {
                if (http1 == listener) http1 = null;
                if (http2 == listener) http2 = null;
                if (http1 is not null || http2 is not null) return;
            }
            stopping.Cancel();
            socket.Dispose();
            onClosed();
        }

        private async Task AcceptLoopAsync()
        {
            while (!stopping.IsCancellationRequested)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(stopping.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException exception)
                {
                    logger.LogWarning("Accept failed on {Address}: {Error}", socket.LocalEndPoint, exception.SocketErrorCode);
                    continue;
                }
                accepted.NoDelay = true;
                try
                {
                    await classifying.WaitAsync(stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    accepted.Dispose();
                    return;
                }
                _ = ClassifyAndDispatchAsync(accepted);
            }
        }

        private async Task ClassifyAndDispatchAsync(Socket accepted)
        {
            try
            {
                var isHttp2 = await IsHttp2Async(accepted);
                var listener = isHttp2 switch { true => http2, false => http1, null => null };
                if (listener is null || !listener.TryEnqueue(contextFactory.Create(accepted)))
                {
                    accepted.Dispose();
                }
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                accepted.Dispose();
            }
            finally
            {
                classifying.Release();
            }
        }

        /// <summary>True for the HTTP/2 preface, false for anything else, null when the peer closed or sent nothing in time.</summary>
        private async Task<bool?> IsHttp2Async(Socket accepted)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            timeout.CancelAfter(ClassifyTimeout);
            var buffer = new byte[Http2Preface.Length];
            var previous = 0;
            var delayMs = 1;
            while (true)
            {
                var count = await accepted.ReceiveAsync(buffer, SocketFlags.Peek, timeout.Token);
                if (count == 0) return null;
                if (!buffer.AsSpan(0, count).SequenceEqual(Http2Preface.AsSpan(0, count))) return false;
                if (count == Http2Preface.Length) return true;
                if (count == previous)
                {
                    // The peek returns at once while the partial preface sits unread: wait for the rest.
                    await Task.Delay(delayMs, timeout.Token);
                    delayMs = Math.Min(delayMs * 2, 50);
                }
                previous = count;
            }
        }
    }

    /// <summary>What Kestrel sees for one <see cref="DemuxEndPoint"/>: a queue of connections of one protocol.</summary>
    private sealed class VirtualListener(DemuxEndPoint endpoint, SharedSocket owner) : IConnectionListener
    {
        private const int MaxQueuedConnections = 512;
        private readonly Channel<ConnectionContext> accepted = Channel.CreateBounded<ConnectionContext>(MaxQueuedConnections);

        public EndPoint EndPoint => endpoint;

        public bool TryEnqueue(ConnectionContext connection) => accepted.Writer.TryWrite(connection);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await accepted.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            if (accepted.Writer.TryComplete()) owner.RemoveListener(this);
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            while (accepted.Reader.TryRead(out var connection)) await connection.DisposeAsync();
        }
    }
}
