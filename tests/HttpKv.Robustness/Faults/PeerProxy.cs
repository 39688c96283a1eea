using System.Net;
using System.Net.Sockets;

namespace HttpKv.Robustness.Faults;

/// <summary>A TCP proxy in front of one member's peer port: the other members reach it at the member's advertised
/// peer URL (127.0.0.1:P) and it forwards to the member's real listener (its own loopback address, same port P).
/// Members dial each other from their own loopback addresses (HttpKv:PeerBindSource), so the proxy knows which
/// member each connection comes from and applies <see cref="NetworkFaults"/> to that link.</summary>
public sealed class PeerProxy : IAsyncDisposable
{
    private const int ChunkBytes = 64 * 1024;
    private readonly TcpListener listener;
    private readonly IPEndPoint target;
    private readonly string to;
    private readonly Func<IPAddress, string?> memberAt;
    private readonly NetworkFaults faults;
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private readonly List<(string From, TcpClient Client, TcpClient Upstream)> connections = [];
    private readonly Task accepting;

    public PeerProxy(IPEndPoint listen, IPEndPoint target, string to, Func<IPAddress, string?> memberAt, NetworkFaults faults)
    {
        this.target = target;
        this.to = to;
        this.memberAt = memberAt;
        this.faults = faults;
        listener = new TcpListener(listen);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        faults.Changed += DropCutConnections;
        accepting = AcceptAsync();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stopping.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var from = memberAt(((IPEndPoint)client.Client.RemoteEndPoint!).Address) ?? "?";
        if (faults.IsCut(from, to))
        {
            client.Dispose(); // as a partition: the member cannot get through
            return;
        }
        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(target, stopping.Token);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }
        lock (gate) connections.Add((from, client, upstream));
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        await Task.WhenAny(PumpAsync(client.GetStream(), upstream.GetStream(), from, done.Token),
            PumpAsync(upstream.GetStream(), client.GetStream(), from, done.Token));
        await done.CancelAsync();
        lock (gate) connections.RemoveAll(c => c.Client == client);
        client.Dispose();
        upstream.Dispose();
    }

    private async Task PumpAsync(NetworkStream source, NetworkStream destination, string from, CancellationToken cancellationToken)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            while (true)
            {
                var read = await source.ReadAsync(buffer, cancellationToken);
                if (read == 0) return;
                if (faults.IsCut(from, to)) return;
                var delay = faults.DelayOf(from, to);
                if (delay > TimeSpan.Zero) await Task.Delay(delay, cancellationToken);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // either side went away, or the link was cut
        }
    }

    private void DropCutConnections()
    {
        lock (gate)
        {
            foreach (var (from, client, upstream) in connections.Where(c => faults.IsCut(c.From, to)))
            {
                client.Client.Close(0);
                upstream.Client.Close(0);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        faults.Changed -= DropCutConnections;
        await stopping.CancelAsync();
        listener.Stop();
        await accepting;
        lock (gate)
        {
            foreach (var (_, client, upstream) in connections)
            {
                client.Dispose();
                upstream.Dispose();
            }
        }
    }
}
