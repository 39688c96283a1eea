namespace HttpKv.Robustness.Cluster;

/// <summary>A cluster of real httpkv members formed from scratch in a temporary directory (deleted on dispose
/// unless the run failed and asked to keep it).</summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<MemberProcess> members = [];

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
            ]));
        }
    }

    public string DataRoot { get; }
    public IReadOnlyList<MemberProcess> Members => members;

    public Task StartAsync() => Task.WhenAll(members.Select(member => member.StartAsync()));

    /// <summary>Every member running and answering again: paused ones resumed, killed ones restarted.</summary>
    public async Task HealAsync()
    {
        foreach (var member in members)
        {
            if (member.IsPaused) await member.ResumeAsync();
            if (!member.IsRunning) await member.StartAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in members) await member.DisposeAsync();
    }
}
