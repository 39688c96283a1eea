using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using HttpKv.Protocol.Peer;
using HttpKv.Server.Peers;
using HttpKv.Server.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server;

/// <summary>The peer transport against a connection that takes the bytes and never answers (what a leader's stream
/// to a restarted follower became in row 4 of ROBUSTNESS.md's "Bugs found": "Streaming to peer" logged, then no
/// message ever arrived and nothing was logged again): the stalled stream is replaced and messages flow again.</summary>
public sealed class PeerTransportTests
{
    private sealed class Received
    {
        public long Messages;
    }

    private sealed class CountingPeer(Received received) : RaftPeer.RaftPeerBase
    {
        public override async Task<PeerAck> Stream(IAsyncStreamReader<PeerMessages> requestStream, ServerCallContext context)
        {
            await foreach (var batch in requestStream.ReadAllAsync(context.CancellationToken))
                Interlocked.Add(ref received.Messages, batch.Messages.Count);
            return new PeerAck();
        }
    }

    [Fact]
    public async Task A_full_queue_to_a_peer_that_takes_nothing_is_reported_to_the_caller()
    {
        // A peer that accepts connections and never reads or answers.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true) held.Add(await silent.AcceptTcpClientAsync(stop.Token));
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // the test is over
            }
        });
        var transport = new PeerTransport(1, 9, TlsEndpointSecurity.Plaintext("peer"), NullLoggerFactory.Instance);
        try
        {
            transport.AddOrUpdatePeer(2, [$"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}"]);
            var message = new byte[1024];
            var refused = 0;
            for (var i = 0; i < PeerTransport.MaxQueuedMessagesPerPeer * 4 && refused == 0; i++)
            {
                if (!transport.Send(2, message)) refused++;
                if (i % 256 == 0) await Task.Delay(1); // let the stream take what it can
            }
            Assert.True(refused > 0, "every message was accepted although none can leave: Raft is never told the peer is unreachable");
        }
        finally
        {
            await transport.DisposeAsync();
            await stop.CancelAsync();
            silent.Stop();
            await accepting;
            foreach (var client in held) client.Dispose();
        }
    }

    [Fact]
    public async Task A_stream_whose_connection_never_answers_is_replaced_and_messages_arrive()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var received = new Received();
        builder.Services.AddSingleton(received);
        await using var app = builder.Build();
        app.MapGrpcService<CountingPeer>();
        await app.StartAsync();
        var serverPort = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

        // In front of the peer: the first connection is accepted and then never read from or answered; the next ones
        // are forwarded to the peer.
        var front = new TcpListener(IPAddress.Loopback, 0);
        front.Start();
        var held = new List<TcpClient>();
        var connections = 0;
        using var stop = new CancellationTokenSource();
        var forwarding = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var client = await front.AcceptTcpClientAsync(stop.Token);
                    if (Interlocked.Increment(ref connections) == 1)
                    {
                        held.Add(client);
                        continue;
                    }
                    held.Add(client);
                    var upstream = new TcpClient();
                    await upstream.ConnectAsync(IPAddress.Loopback, serverPort, stop.Token);
                    held.Add(upstream);
                    _ = client.GetStream().CopyToAsync(upstream.GetStream(), stop.Token);
                    _ = upstream.GetStream().CopyToAsync(client.GetStream(), stop.Token);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // the test is over
            }
        });

        var transport = new PeerTransport(1, 9, TlsEndpointSecurity.Plaintext("peer"), NullLoggerFactory.Instance);
        try
        {
            transport.AddOrUpdatePeer(2, [$"http://127.0.0.1:{((IPEndPoint)front.LocalEndpoint).Port}"]);
            var message = new byte[1024];
            var deadline = DateTime.UtcNow + PeerTransport.StallTimeout * 6;
            while (Interlocked.Read(ref received.Messages) == 0 && DateTime.UtcNow < deadline)
            {
                transport.Send(2, message);
                await Task.Delay(2);
            }
            Assert.True(Interlocked.Read(ref received.Messages) > 0,
                $"no message reached the peer in {(PeerTransport.StallTimeout * 6).TotalSeconds} s over {connections} connection(s)");
            Assert.True(connections >= 2, "the first, silent connection was never replaced");
        }
        finally
        {
            await transport.DisposeAsync();
            await stop.CancelAsync();
            front.Stop();
            await forwarding;
            foreach (var client in held) client.Dispose();
            await app.StopAsync();
        }
    }
}
