using System.Net;
using HttpKv.Robustness.Faults;

namespace HttpKv.Robustness.Cluster;

/// <summary>A cluster of real httpkv members formed from scratch in a temporary directory. Each member listens for
/// peers on its own loopback address (127.0.0.1x) behind a <see cref="PeerProxy"/> on its advertised peer URL, so
/// <see cref="Network"/> can cut or delay the traffic between any two members, in either direction.</summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<MemberProcess> members = [];
    private readonly List<PeerProxy> proxies = [];

    public TestCluster(int size, string dataRoot)
    {
        DataRoot = dataRoot;
        for (var i = 1; i <= size; i++)
        {
            members.Add(new MemberProcess($"m{i}", dataRoot, _ =>
            [
                "--initial-cluster", string.Join(',', members.Select(m => $"{m.Name}={m.PeerUrl}")),
                "--initial-cluster-state", "new", "--initial-cluster-token", "robustness",
                "--heartbeat-interval", "100", "--election-timeout", "1000", "--snapshot-count", "2000",
                "--log-level", "info",
            ], peerListenAddress: $"127.0.0.{10 + i}"));
        }
    }

    public string DataRoot { get; }
    public IReadOnlyList<MemberProcess> Members => members;
    public NetworkFaults Network { get; } = new();

    private string? MemberAt(IPAddress address) => members.FirstOrDefault(member => member.PeerListenAddress == address.ToString())?.Name;

    public Task StartAsync()
    {
        foreach (var member in members)
        {
            proxies.Add(new PeerProxy(new IPEndPoint(IPAddress.Loopback, member.PeerPort),
                new IPEndPoint(IPAddress.Parse(member.PeerListenAddress!), member.PeerPort), member.Name, MemberAt, Network));
        }
        return Task.WhenAll(members.Select(member => member.StartAsync()));
    }

    /// <summary>Every member running and answering again and every link whole: paused ones resumed, killed ones
    /// restarted, partitions healed.</summary>
    public async Task HealAsync()
    {
        Network.Heal();
        foreach (var member in members)
        {
            if (member.IsPaused) await member.ResumeAsync();
            if (!member.IsRunning) await member.StartAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in members) await member.DisposeAsync();
        foreach (var proxy in proxies) await proxy.DisposeAsync();
    }
}
