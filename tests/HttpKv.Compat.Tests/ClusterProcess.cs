using System.Text.Json;

namespace HttpKv.Compat.Tests;

/// <summary>A cluster of real server processes on loopback (etcd as the oracle, or HttpKv), members infra1..N,
/// started with etcd's cluster flags. Members can be killed (kill -9), restarted on the same ports and data dir,
/// paused (SIGSTOP) and resumed, and added (start a member that `member add` announced).</summary>
public sealed class ClusterProcess : IAsyncDisposable
{
    public const string Token = "etcd-cluster-1";
    private readonly List<ServerProcess> members = [];

    private readonly Func<ServerProcess, IEnumerable<string>> extraFlags;
    private readonly string peerScheme;

    private ClusterProcess(string kind, int heartbeatMs, int electionMs, int snapshotCount, Func<ServerProcess, IEnumerable<string>>? extraFlags,
        string peerScheme)
    {
        this.extraFlags = extraFlags ?? (_ => []);
        this.peerScheme = peerScheme;
        Kind = kind;
        HeartbeatMs = heartbeatMs;
        ElectionMs = electionMs;
        SnapshotCount = snapshotCount;
    }

    public string Kind { get; }
    public int HeartbeatMs { get; }
    public int ElectionMs { get; }
    public int SnapshotCount { get; }
    public IReadOnlyList<ServerProcess> Members => members;
    public ServerProcess this[int index] => members[index];

    /// <summary>Every member's client endpoint, for etcdctl --endpoints.</summary>
    public string Endpoints => EndpointsOf(members);

    public static string EndpointsOf(IEnumerable<ServerProcess> servers) => string.Join(',', servers.Select(member => member.Endpoint));

    /// <summary>The --initial-cluster of the founding members.</summary>
    public string InitialCluster { get; private set; } = "";

    /// <summary>A cluster of <paramref name="size"/> members of the given kind ("etcd" or "httpkv"), not started yet.
    /// Defaults are etcd's: heartbeat 100 ms, election timeout 1000 ms, snapshot count 100,000.</summary>
    /// <param name="extraFlags">more flags for every member (TLS files, say), given the member.</param>
    /// <param name="peerScheme">"https" for peer URLs served with TLS.</param>
    public static ClusterProcess Create(string kind, int size = 3, int heartbeatMs = 100, int electionMs = 1000, int snapshotCount = 100_000,
        Func<ServerProcess, IEnumerable<string>>? extraFlags = null, string peerScheme = "http")
    {
        var cluster = new ClusterProcess(kind, heartbeatMs, electionMs, snapshotCount, extraFlags, peerScheme);
        for (var i = 1; i <= size; i++) cluster.members.Add(cluster.NewMember($"infra{i}", () => cluster.InitialCluster, "new"));
        cluster.InitialCluster = string.Join(',', cluster.members.Select(member => $"{member.Name}={member.PeerUrl}"));
        return cluster;
    }

    private ServerProcess NewMember(string name, Func<string> initialCluster, string state, Func<ServerProcess, IEnumerable<string>>? memberFlags = null) =>
        ServerProcess.Member(Kind, name, server =>
        [
            "--initial-cluster", initialCluster(), "--initial-cluster-token", Token, "--initial-cluster-state", state,
            "--heartbeat-interval", HeartbeatMs.ToString(), "--election-timeout", ElectionMs.ToString(),
            "--snapshot-count", SnapshotCount.ToString(), .. (memberFlags ?? extraFlags)(server),
        ], peerScheme);

    /// <summary>Starts every member at once: a member of a new cluster is ready only once a quorum is up.</summary>
    public Task StartAsync() => Task.WhenAll(members.Select(member => member.StartAsync()));

    /// <summary>A member that is not in the cluster yet: its ports and data dir, for `member add --peer-urls`.
    /// Start it with <see cref="StartAddedAsync"/> once `member add` has printed the cluster to join.</summary>
    /// <param name="memberFlags">flags for this member instead of the cluster's extra flags.</param>
    public ServerProcess NewJoiningMember(string name, Func<string> initialCluster, Func<ServerProcess, IEnumerable<string>>? memberFlags = null)
    {
        var member = NewMember(name, initialCluster, "existing", memberFlags);
        members.Add(member);
        return member;
    }

    public Task KillAsync(ServerProcess member) => member.KillAsync();

    /// <summary>Starts a killed member again with the same flags, ports and data dir.</summary>
    public Task RestartAsync(ServerProcess member) => member.StartAsync();

    public Task PauseAsync(ServerProcess member) => member.PauseAsync();

    public Task ResumeAsync(ServerProcess member) => member.ResumeAsync();

    public ServerProcess MemberWithId(ulong id, IEnumerable<EndpointStatus> statuses) =>
        members.Single(member => statuses.Single(status => status.MemberId == id).Endpoint == member.Endpoint);

    /// <summary>`etcdctl endpoint status -w json` of the given members; throws when etcdctl fails (e.g. one does not answer).</summary>
    public static async Task<List<EndpointStatus>> StatusAsync(IEnumerable<ServerProcess> servers)
    {
        var result = await Tool.EtcdctlAtAsync(EndpointsOf(servers), "--command-timeout", "5s", "endpoint", "status", "-w", "json");
        if (result.ExitCode != 0) throw new InvalidOperationException($"endpoint status failed: {result}");
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.EnumerateArray().Select(EndpointStatus.Parse).ToList();
    }

    /// <summary>Polls `endpoint status` of <paramref name="servers"/> until they agree on one leader that is one of
    /// them, in one term; returns their statuses. Throws with the last answer after the deadline.</summary>
    public static async Task<List<EndpointStatus>> WaitForOneLeaderAsync(IReadOnlyList<ServerProcess> servers, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        var last = "";
        while (true)
        {
            try
            {
                var statuses = await StatusAsync(servers);
                var leaders = statuses.Select(status => status.Leader).Distinct().ToList();
                if (statuses.Count == servers.Count && leaders.Count == 1 && statuses.Any(status => status.MemberId == leaders[0])
                    && statuses.Select(status => status.RaftTerm).Distinct().Count() == 1)
                    return statuses;
                last = string.Join("\n", statuses);
            }
            catch (InvalidOperationException error)
            {
                last = error.Message;
            }
            if (DateTime.UtcNow > until) throw new TimeoutException($"no single leader among {EndpointsOf(servers)} within {deadline}; last:\n{last}");
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in members) await member.DisposeAsync();
    }

    /// <summary>One element of `etcdctl endpoint status -w json`.</summary>
    public sealed record EndpointStatus(string Endpoint, ulong ClusterId, ulong MemberId, ulong Leader, ulong RaftTerm, ulong RaftIndex, bool IsLearner)
    {
        public static EndpointStatus Parse(JsonElement element)
        {
            var status = element.GetProperty("Status");
            var header = status.GetProperty("header");
            // etcdctl's JSON leaves out zero fields: no "leader" while there is none.
            return new EndpointStatus(
                element.GetProperty("Endpoint").GetString()!,
                UInt64(header, "cluster_id"), UInt64(header, "member_id"), UInt64(status, "leader"),
                UInt64(status, "raftTerm"), UInt64(status, "raftIndex"),
                status.TryGetProperty("isLearner", out var learner) && learner.GetBoolean());
        }

        private static ulong UInt64(JsonElement element, string property) =>
            element.TryGetProperty(property, out var value) ? value.GetUInt64() : 0;
    }
}
