using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Connections.Tests;

/// <summary><see cref="DemuxListenerFactory"/> on a real loopback socket: each accepted connection goes to the
/// listener of its protocol with none of its bytes consumed.</summary>
public sealed class DemuxListenerFactoryTests : IAsyncLifetime
{
    private static readonly byte[] Http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly DemuxListenerFactory factory = new(NullLoggerFactory.Instance);
    private readonly IPEndPoint address = new(IPAddress.Loopback, FreePort());
    private IConnectionListener http1 = null!;
    private IConnectionListener http2 = null!;

    public async Task InitializeAsync()
    {
        http1 = await factory.BindAsync(new DemuxEndPoint(address, HttpProtocols.Http1));
        http2 = await factory.BindAsync(new DemuxEndPoint(address, HttpProtocols.Http2));
    }

    public async Task DisposeAsync()
    {
        await http1.DisposeAsync();
        await http2.DisposeAsync();
    }

    [Fact]
    public void The_factory_binds_only_its_own_endpoints()
    {
        Assert.True(factory.CanBind(new DemuxEndPoint(address, HttpProtocols.Http2)));
        Assert.False(factory.CanBind(address));
    }

    [Fact]
    public async Task The_HTTP2_preface_goes_to_the_HTTP2_listener_and_an_HTTP1_request_to_the_HTTP1_one_each_unread()
    {
        var request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray();
        using var grpcClient = await ConnectAndSendAsync([.. Http2Preface, 0, 0, 0, 4, 0, 0, 0, 0, 0]);
        using var httpClient = await ConnectAndSendAsync(request);

        await using var grpc = await AcceptAsync(http2);
        await using var http = await AcceptAsync(http1);

        Assert.Equal([.. Http2Preface, 0, 0, 0, 4, 0, 0, 0, 0, 0], await ReadAsync(grpc, Http2Preface.Length + 9));
        Assert.Equal(request, await ReadAsync(http, request.Length));
    }

    [Fact]
    public async Task A_preface_that_arrives_in_pieces_is_waited_for()
    {
        using var client = await ConnectAndSendAsync(Http2Preface[..5]);
        var accepting = AcceptAsync(http2);
        await Task.Delay(100); // the accept loop peeks the five bytes and waits for more
        Assert.False(accepting.IsCompleted);
        await client.SendAsync(Http2Preface.AsMemory(5));

        await using var connection = await accepting;

        Assert.Equal(Http2Preface, await ReadAsync(connection, Http2Preface.Length));
    }

    [Fact]
    public async Task A_client_that_closes_before_sending_anything_reaches_neither_listener()
    {
        using (await ConnectAndSendAsync([]))
        {
        }
        var request = "GET /second HTTP/1.1\r\n\r\n"u8.ToArray();
        using var second = await ConnectAndSendAsync(request);

        await using var connection = await AcceptAsync(http1);

        Assert.Equal(request, await ReadAsync(connection, request.Length));
        using var brief = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await http2.AcceptAsync(brief.Token));
    }

    [Fact]
    public async Task The_address_is_released_when_both_listeners_unbind_and_not_before()
    {
        await http1.UnbindAsync();
        using var stillServed = await ConnectAndSendAsync(Http2Preface);
        await using (await AcceptAsync(http2))
        {
        }
        await http2.UnbindAsync();

        // SO_REUSEADDR passes over the closed connections' TIME_WAIT, never over a socket still listening (Linux).
        using var rebound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        rebound.SetRawSocketOption(1, 2, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_REUSEADDR
        rebound.Bind(address);
        rebound.Listen();
    }

    [Fact]
    public async Task An_address_in_use_is_refused_as_Kestrel_expects()
    {
        var other = new DemuxListenerFactory(NullLoggerFactory.Instance);

        await Assert.ThrowsAsync<AddressInUseException>(async () => await other.BindAsync(new DemuxEndPoint(address, HttpProtocols.Http1)));
    }

    private async Task<Socket> ConnectAndSendAsync(byte[] bytes)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address);
        if (bytes.Length > 0) await socket.SendAsync(bytes);
        return socket;
    }

    private static async Task<ConnectionContext> AcceptAsync(IConnectionListener listener) =>
        await listener.AcceptAsync().AsTask().WaitAsync(Patience) ?? throw new InvalidOperationException("the listener was unbound");

    private static async Task<byte[]> ReadAsync(ConnectionContext connection, int count)
    {
        while (true)
        {
            var result = await connection.Transport.Input.ReadAsync().AsTask().WaitAsync(Patience);
            if (result.Buffer.Length >= count || result.IsCompleted)
            {
                var bytes = result.Buffer.Slice(0, Math.Min(count, result.Buffer.Length)).ToArray();
                connection.Transport.Input.AdvanceTo(result.Buffer.End);
                return bytes;
            }
            connection.Transport.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
