using System.Net;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Faults;

namespace HttpKv.Robustness.Cluster;

/// <summary>A cluster of real httpkv members formed from scratch in a temporary directory. Each member listens for
/// peers on its own loopback address (127.0.0.1x) behind a <see cref="PeerProxy"/> on its advertised peer URL, so
/// <see cref="Network"/> can cut or delay the traffic between any two members, in either direction.
///
/// Membership changes go through etcd's Cluster service as an operator's would: a learner is added with MemberAdd
/// (isLearner) and started with --initial-cluster-state existing, then promoted with MemberPromote; a member is
/// replaced by MemberRemove, wiping its data dir and MemberAdd of a new member (a new ID) on the same name and
/// ports, started empty. <see cref="Members"/> and the proxies follow every change.</summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<MemberProcess> members = [];
    private readonly Dictionary<int, PeerProxy> proxies = [];
    private readonly Lock gate = new();
    private readonly int snapshotCount;
    private readonly int snapshotCatchUpEntries;
    private int nextIndex;

    /// <param name="snapshotCount">--snapshot-count of every member.</param>
    /// <param name="snapshotCatchUpEntries">--experimental-snapshot-catchup-entries: entries the leader keeps behind a
    /// snapshot; a follower further behind gets a snapshot.</param>
    public TestCluster(int size, string dataRoot, int snapshotCount = 2000, int snapshotCatchUpEntries = 5000)
    {
        DataRoot = dataRoot;
        this.snapshotCount = snapshotCount;
        this.snapshotCatchUpEntries = snapshotCatchUpEntries;
        for (var i = 1; i <= size; i++) members.Add(NewMember($"m{i}", $"127.0.0.{10 + i}", joins: false));
        nextIndex = size;
    }

    public string DataRoot { get; }
    public int SnapshotCount => snapshotCount;
    public int SnapshotCatchUpEntries => snapshotCatchUpEntries;

    /// <summary>The members now in the cluster (voters and learners), in the order they joined.</summary>
    public IReadOnlyList<MemberProcess> Members
    {
        get { lock (gate) return [.. members]; }
    }

    public IReadOnlyList<MemberProcess> Voters => [.. Members.Where(member => !member.IsLearner)];
    public MemberProcess? Learner => Members.FirstOrDefault(member => member.IsLearner);
    public NetworkFaults Network { get; } = new();

    /// <summary>More flags for a member, read at each of its starts (so a test can change them between restarts).</summary>
    public Func<MemberProcess, IEnumerable<string>>? ExtraFlags { get; set; }

    private MemberProcess NewMember(string name, string peerListenAddress, bool joins, (int, int)? ports = null, string? earlierOutput = null) =>
        new(name, DataRoot, member =>
        [
            "--initial-cluster", joins
                ? string.Join(',', Members.Where(m => m != member && m.Name != member.Name).Append(member).Select(m => $"{m.Name}={m.PeerUrl}"))
                : string.Join(',', Members.Select(m => $"{m.Name}={m.PeerUrl}")),
            "--initial-cluster-state", joins ? "existing" : "new", "--initial-cluster-token", "robustness",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
            "--snapshot-count", snapshotCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--experimental-snapshot-catchup-entries", snapshotCatchUpEntries.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--log-level", "info",
            .. ExtraFlags?.Invoke(member) ?? [],
        ], peerListenAddress, ports)
        { Joins = joins, EarlierOutput = earlierOutput };

    private string? MemberAt(IPAddress address)
    {
        var text = address.ToString();
        return Members.FirstOrDefault(member => member.PeerListenAddress == text)?.Name;
    }

    private void AddProxy(MemberProcess member)
    {
        if (proxies.ContainsKey(member.PeerPort)) return; // a replacement keeps its predecessor's address, port and proxy
        proxies[member.PeerPort] = new PeerProxy(new IPEndPoint(IPAddress.Loopback, member.PeerPort),
            new IPEndPoint(IPAddress.Parse(member.PeerListenAddress!), member.PeerPort), member.Name, MemberAt, Network);
    }

    public async Task StartAsync()
    {
        foreach (var member in Members) AddProxy(member);
        await Task.WhenAll(Members.Select(member => member.StartAsync()));
        var listed = await MemberListAsync();
        foreach (var member in Members) member.Id = listed.First(m => m.PeerURLs.Contains(member.PeerUrl)).ID;
    }

    /// <summary>Every member running and answering again and every link whole: paused ones resumed, killed ones
    /// restarted, partitions healed.</summary>
    public async Task HealAsync()
    {
        Network.Heal();
        foreach (var member in Members)
        {
            if (member.IsPaused) await member.ResumeAsync();
            if (!member.IsRunning) await member.StartAsync();
        }
    }

    /// <summary>The member that says it leads, or null when none answers so.</summary>
    public async Task<MemberProcess?> LeaderAsync()
    {
        foreach (var member in Members.Where(member => member.IsRunning && !member.IsPaused))
        {
            try
            {
                using var channel = GrpcChannel.ForAddress(member.ClientUrl);
                var status = await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                if (status.Leader == status.Header.MemberId) return member;
            }
            catch (RpcException)
            {
                // down or without a leader: ask the next
            }
        }
        return null;
    }

    /// <summary>After healing, every member must reach the same revision and the same data. Voters must hash their
    /// history (HashKV) to the same value at a common revision; a learner refuses HashKV as etcd's does, so its
    /// whole keyspace at that revision, read serializably, must equal a voter's, key by key with every revision and
    /// version. Retried for a minute while members catch up; the problems found, or none.</summary>
    public async Task<IReadOnlyList<string>> CompareHashesAsync(TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var statuses = new List<(string Name, uint Hash, long CompactRevision)>();
            var problems = new List<string>();
            long target = 0;
            try
            {
                var all = Members;
                foreach (var member in all)
                {
                    using var channel = GrpcChannel.ForAddress(member.ClientUrl);
                    var range = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("k/"), Serializable = member.IsLearner },
                        deadline: DateTime.UtcNow.AddSeconds(5));
                    target = Math.Max(target, range.Header.Revision);
                }
                foreach (var member in all.Where(member => !member.IsLearner))
                {
                    using var channel = GrpcChannel.ForAddress(member.ClientUrl);
                    var hash = await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest { Revision = target },
                        deadline: DateTime.UtcNow.AddSeconds(5));
                    statuses.Add((member.Name, hash.Hash, hash.CompactRevision));
                }
                // A member yet to apply the latest compaction hashes less history: asked again, it agrees.
                if (statuses.Select(status => (status.Hash, status.CompactRevision)).Distinct().Count() > 1)
                    problems.Add($"HashKV differs at revision {target}: " + string.Join(", ", statuses.Select(s => $"{s.Name} {s.Hash:x8} (compacted at {s.CompactRevision})")));
                var voter = all.First(member => !member.IsLearner);
                var expected = await KeyspaceAsync(voter, target);
                foreach (var learner in all.Where(member => member.IsLearner))
                {
                    var keyspace = await KeyspaceAsync(learner, target);
                    if (keyspace != expected)
                        problems.Add($"the learner {learner.Name}'s keyspace at revision {target} differs from {voter.Name}'s:\n  {Differences(expected, keyspace)}");
                }
                if (problems.Count == 0) return [];
                if (DateTime.UtcNow > deadline) return problems;
            }
            catch (RpcException exception) when (DateTime.UtcNow < deadline)
            {
                _ = exception; // a member still catching up (future revision) or restarting: ask again
            }
            catch (RpcException exception)
            {
                return [$"members did not converge for HashKV at revision {target}: {exception.Status.Detail}"];
            }
            await Task.Delay(500);
        }
    }

    /// <summary>Every key at <paramref name="revision"/> with its value, revisions, version and lease, one per line (serializable).</summary>
    private static async Task<string> KeyspaceAsync(MemberProcess member, long revision)
    {
        using var channel = GrpcChannel.ForAddress(member.ClientUrl);
        var range = await new KV.KVClient(channel).RangeAsync(new RangeRequest
        {
            Key = Google.Protobuf.ByteString.CopyFrom(0), RangeEnd = Google.Protobuf.ByteString.CopyFrom(0), Revision = revision, Serializable = true,
        }, deadline: DateTime.UtcNow.AddSeconds(10));
        return string.Join('\n', range.Kvs.Select(kv =>
            $"{kv.Key.ToStringUtf8()} = {kv.Value.ToStringUtf8()} create {kv.CreateRevision} mod {kv.ModRevision} version {kv.Version} lease {kv.Lease}"));
    }

    private static string Differences(string expected, string actual)
    {
        var want = expected.Split('\n').ToHashSet();
        var have = actual.Split('\n').ToHashSet();
        return string.Join("\n  ", want.Except(have).Take(5).Select(line => "missing: " + line)
            .Concat(have.Except(want).Take(5).Select(line => "unexpected: " + line)));
    }

    // ---- membership, through etcd's Cluster service ----

    /// <summary>Runs a Cluster-service call on the running voters other than <paramref name="except"/>, one after
    /// the other, until one answers; retried for a while (no leader yet, a member restarting, a learner not yet in
    /// sync), as an operator would.</summary>
    public async Task<T> AdminAsync<T>(Func<Etcdserverpb.Cluster.ClusterClient, CallOptions, Task<T>> call, MemberProcess? except = null,
        TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            RpcException? last = null;
            foreach (var member in Voters.Where(member => member != except && member.IsRunning && !member.IsPaused))
            {
                try
                {
                    using var channel = GrpcChannel.ForAddress(member.ClientUrl);
                    return await call(new Etcdserverpb.Cluster.ClusterClient(channel), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
                }
                catch (RpcException exception)
                {
                    last = exception;
                }
            }
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"no member carried out the membership change: {last?.Status.Detail ?? "none running"}", last);
            await Task.Delay(300);
        }
    }

    public async Task<IReadOnlyList<Member>> MemberListAsync() =>
        [.. (await AdminAsync(async (client, options) => await client.MemberListAsync(new MemberListRequest { Linearizable = true }, options))).Members];

    /// <summary>Adds a new member (a new name, address and ports) as a learner, and starts it empty.</summary>
    public async Task<MemberProcess> AddLearnerAsync()
    {
        int index;
        lock (gate) index = ++nextIndex;
        var learner = NewMember($"m{index}", $"127.0.0.{10 + index}", joins: true);
        learner.IsLearner = true;
        await JoinAsync(learner);
        return learner;
    }

    /// <summary>MemberPromote of the learner, retried while the leader says it is not in sync yet.</summary>
    public async Task PromoteAsync(MemberProcess learner, TimeSpan patience)
    {
        await AdminAsync(async (client, options) =>
        {
            try
            {
                return await client.MemberPromoteAsync(new MemberPromoteRequest { ID = learner.Id }, options);
            }
            catch (RpcException exception) when (exception.Status.Detail == "etcdserver: can only promote a learner member")
            {
                return new MemberPromoteResponse(); // an earlier attempt that timed out went through
            }
        }, except: learner, patience: patience);
        learner.IsLearner = false;
    }

    /// <summary>Replaces <paramref name="victim"/>: MemberRemove (through another member), kill, wipe its data dir, then
    /// MemberAdd of a new member (a new ID) on the same name, address and ports, started empty with
    /// --initial-cluster-state existing. Returns the new member once it serves clients (it has caught up to its own
    /// publish entry, so it holds a snapshot of the cluster's data).</summary>
    public async Task<MemberProcess> ReplaceAsync(MemberProcess victim, bool asLearner = false)
    {
        await AdminAsync(async (client, options) =>
        {
            try
            {
                return await client.MemberRemoveAsync(new MemberRemoveRequest { ID = victim.Id }, options);
            }
            catch (RpcException exception) when (exception.Status.Detail == "etcdserver: member not found")
            {
                return new MemberRemoveResponse(); // an earlier attempt that timed out went through
            }
        }, except: victim);
        await victim.DisposeAsync(); // a removed member stops by itself; kill -9 in case it had not heard yet
        Directory.Delete(victim.DataDir, recursive: true);
        var replacement = NewMember(victim.Name, victim.PeerListenAddress!, joins: true, (victim.ClientPort, victim.PeerPort), victim.Output);
        replacement.IsLearner = asLearner;
        lock (gate) members.Remove(victim);
        await JoinAsync(replacement);
        return replacement;
    }

    private async Task JoinAsync(MemberProcess member)
    {
        var added = await AdminAsync(async (client, options) =>
        {
            var request = new MemberAddRequest { IsLearner = member.IsLearner };
            request.PeerURLs.Add(member.PeerUrl);
            try
            {
                return (await client.MemberAddAsync(request, options)).Member;
            }
            catch (RpcException exception) when (exception.Status.Detail == "etcdserver: Peer URLs already exists")
            {
                // an earlier attempt that timed out went through
                var listed = await client.MemberListAsync(new MemberListRequest { Linearizable = true }, options);
                return listed.Members.First(m => m.PeerURLs.Contains(member.PeerUrl));
            }
        });
        member.Id = added.ID;
        lock (gate)
        {
            members.Add(member);
            AddProxy(member);
        }
        await member.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members) await member.DisposeAsync();
        foreach (var proxy in proxies.Values) await proxy.DisposeAsync();
    }
}
