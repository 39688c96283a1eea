using System.Buffers.Binary;
using System.Text;

namespace HttpKv.Raft.Tests;

/// <summary>A deterministic simulation of a Raft cluster: one seeded Random drives a network that drops,
/// duplicates, delays (and so reorders) and partitions messages, crashes and restarts nodes (keeping only their
/// MemoryStorage, which holds exactly what their Readys persisted), client proposals and reads, compaction,
/// leadership transfers and membership changes (learner add, promote, remove). The invariants are checked after
/// every step; at the end the network heals and the cluster must elect a leader and commit a final proposal.</summary>
internal sealed partial class Simulation
{
    /// <summary>Steps of chaos per seed (HTTPKV_RAFT_STEPS overrides, for longer histories).</summary>
    private static readonly int Steps =
        int.TryParse(Environment.GetEnvironmentVariable("HTTPKV_RAFT_STEPS"), out var steps) && steps > 0 ? steps : 500;
    private const int LivenessSteps = 400;
    private const int MaxNodes = 7;

    private readonly Random random;
    private readonly int seed;
    private readonly bool tracing;
    private readonly SortedDictionary<ulong, SimNode> nodes = [];
    private readonly List<InFlight> network = [];
    private readonly HashSet<(ulong From, ulong To)> blocked = [];
    private readonly double dropRate, duplicateRate;
    private readonly bool hostile;
    private readonly (double Probability, Action Event)[] events;
    private readonly int maxDelay;
    private readonly ulong maxSizePerMessage;
    private readonly int maxInflight;
    private readonly bool preVote, checkQuorum;
    private int now;
    private int counter;
    private ulong nextNodeId;
    private bool chaos = true;

    // What every node must agree on, gathered as the run goes.
    private readonly Dictionary<ulong, ulong> leaderOfTerm = [];
    private readonly Dictionary<ulong, (ulong Term, string Data)> appliedAt = [];
    private readonly Dictionary<ulong, ulong> stateHashAt = [];
    private readonly Dictionary<ulong, ulong> commitTermOf = [];
    private readonly Dictionary<(ulong Index, ulong Term), (string Data, ulong PreviousTerm)> entryAt = [];
    private readonly Dictionary<(ulong Id, ulong Term), ulong> leaderLastIndex = [];
    private readonly Dictionary<string, ulong> readIssuedAt = [];
    private ulong highestCommit;

    public List<string> Trace { get; } = [];
    public SimulationStats Stats { get; } = new();
    public int NodeCount { get; }
    public int StepNumber { get; private set; }

    internal sealed class SimulationStats
    {
        public long Leaders, Crashes, SnapshotsApplied, ConfChangesCommitted, ReadsAnswered, EntriesCommitted;

        public void AddTo(SimulationStats total)
        {
            Interlocked.Add(ref total.Leaders, Leaders);
            Interlocked.Add(ref total.Crashes, Crashes);
            Interlocked.Add(ref total.SnapshotsApplied, SnapshotsApplied);
            Interlocked.Add(ref total.ConfChangesCommitted, ConfChangesCommitted);
            Interlocked.Add(ref total.ReadsAnswered, ReadsAnswered);
            Interlocked.Add(ref total.EntriesCommitted, EntriesCommitted);
        }

        public override string ToString() =>
            $"{Leaders} leaders elected, {EntriesCommitted} entries committed ({ConfChangesCommitted} conf changes), " +
            $"{ReadsAnswered} reads answered, {SnapshotsApplied} snapshots applied, {Crashes} crashes";
    }

    private sealed record InFlight(Message Message, int DeliverAt);

    private sealed class SimNode(ulong id, MemoryStorage storage)
    {
        public ulong Id { get; } = id;
        public MemoryStorage Storage { get; } = storage; // the disk: survives crashes
        public RawNode? Raw;                              // null while crashed
        public ulong AppliedIndex;
        public ulong StateHash;
        public ConfState ConfState = ConfState.Empty;
    }

    public Simulation(int seed, bool trace)
    {
        this.seed = seed;
        tracing = trace;
        random = new Random(seed);
        NodeCount = seed % 2 == 0 ? 3 : 5;
        hostile = random.Next(4) == 0; // a quarter of the seeds: more loss, partitions and crashes
        dropRate = random.NextDouble() * (hostile ? 0.5 : 0.2);
        duplicateRate = random.NextDouble() * 0.1;
        maxDelay = 1 + random.Next(5);
        maxSizePerMessage = new ulong[] { 1, 64, 1 << 20 }[random.Next(3)];
        maxInflight = new[] { 1, 4, 256 }[random.Next(3)];
        preVote = random.Next(4) != 0;
        checkQuorum = random.Next(4) != 0;
        var voters = Enumerable.Range(1, NodeCount).Select(i => (ulong)i).ToArray();
        foreach (var id in voters)
        {
            var node = new SimNode(id, MemoryStorage.ForNewCluster(voters));
            nodes[id] = node;
            Start(node);
        }
        nextNodeId = (ulong)NodeCount + 1;
        events =
        [
            (0.30, Propose), (0.05, ReadIndex), (hostile ? 0.04 : 0.02, ChangePartition), (hostile ? 0.03 : 0.015, Crash),
            (hostile ? 0.045 : 0.03, Restart), (0.03, Compact), (0.015, ChangeMembership), (0.005, TransferLeader),
            (hostile ? 0.02 : 0.01, CrashLeader),
        ];
        stateHashAt[1] = 0;
        Log($"seed {seed}: {NodeCount} nodes, hostile {hostile}, drop {dropRate:F2}, duplicate {duplicateRate:F2}, delay ≤ {maxDelay}, " +
            $"max message {maxSizePerMessage} B, inflight {maxInflight}, pre-vote {preVote}, check quorum {checkQuorum}");
    }

    public void Run()
    {
        for (StepNumber = 1; StepNumber <= Steps; StepNumber++) Step();
        CheckLogMatchingFully();
        CheckLiveness();
    }

    private void Log(string text)
    {
        if (tracing) Trace.Add($"[{now}] {text}");
    }

    private static void Check(bool condition, string message)
    {
        if (!condition) throw new InvalidOperationException("invariant violated: " + message);
    }

    // ---- one step ----

    private void Step()
    {
        now++;
        DeliverDue();
        foreach (var node in Live())
            if (random.NextDouble() < 0.9) node.Raw!.Tick();
        if (chaos) RandomEvent();
        ProcessAllReadies();
        CheckInvariants();
        if (StepNumber % 50 == 0) CheckLogMatchingFully();
    }

    private IEnumerable<SimNode> Live() => nodes.Values.Where(n => n.Raw is not null).ToArray();

    private void RandomEvent()
    {
        var roll = random.NextDouble();
        foreach (var (probability, action) in events)
        {
            if (roll < probability)
            {
                action();
                return;
            }
            roll -= probability;
        }
    }

    private SimNode? RandomLive()
    {
        var live = Live().ToArray();
        return live.Length == 0 ? null : live[random.Next(live.Length)];
    }

    private SimNode? Leader() =>
        Live().Where(n => n.Raw!.Status.Role == RaftRole.Leader).OrderByDescending(n => n.Raw!.Status.Term).FirstOrDefault();

    private void Propose()
    {
        var node = RandomLive();
        if (node is null) return;
        var data = $"v{seed}-{counter++}";
        try
        {
            node.Raw!.Propose(Encoding.UTF8.GetBytes(data));
            Log($"propose {data} at {node.Id}");
        }
        catch (ProposalDroppedException)
        {
            Log($"propose {data} at {node.Id}: dropped");
        }
    }

    private void ReadIndex()
    {
        var node = RandomLive();
        if (node is null) return;
        var context = $"r{counter++}";
        try
        {
            node.Raw!.ReadIndex(Encoding.UTF8.GetBytes(context));
            readIssuedAt[context] = highestCommit;
            Log($"read {context} at {node.Id} (commit known ≥ {highestCommit})");
        }
        catch (ProposalDroppedException)
        {
        }
    }

    private void ChangePartition()
    {
        blocked.Clear();
        var ids = nodes.Keys.ToArray();
        switch (random.Next(3))
        {
            case 0:
                Log("heal");
                return;
            case 1:
                var isolated = ids[random.Next(ids.Length)];
                foreach (var other in ids.Where(o => o != isolated)) BlockBoth(isolated, other);
                Log($"isolate {isolated}");
                return;
            default:
                var side = ids.Where(_ => random.Next(2) == 0).ToHashSet();
                foreach (var a in side)
                    foreach (var b in ids.Where(b => !side.Contains(b))) BlockBoth(a, b);
                Log($"partition [{string.Join(",", side)}] | rest");
                return;
        }
    }

    private void BlockBoth(ulong a, ulong b)
    {
        blocked.Add((a, b));
        blocked.Add((b, a));
    }

    private void Crash()
    {
        var node = RandomLive();
        if (node is null) return;
        node.Raw = null;
        Stats.Crashes++;
        Log($"crash {node.Id}");
    }

    private void CrashLeader()
    {
        var leader = Leader();
        if (leader is null) return;
        leader.Raw = null;
        Stats.Crashes++;
        Log($"crash leader {leader.Id}");
    }

    private void Restart()
    {
        var crashed = nodes.Values.Where(n => n.Raw is null).ToArray();
        if (crashed.Length == 0) return;
        var node = crashed[random.Next(crashed.Length)];
        Start(node);
        Log($"restart {node.Id} (term {node.Raw!.Status.Term}, commit {node.Raw.Status.Commit}, applied {node.AppliedIndex})");
        CheckPersistedCommitted(node);
    }

    /// <summary>Starts a node from its disk: the state machine comes back from the snapshot, the rest is re-applied.</summary>
    private void Start(SimNode node)
    {
        var snapshot = node.Storage.Snapshot();
        RestoreStateMachine(node, snapshot);
        node.Raw = new RawNode(new RaftConfig
        {
            Id = node.Id, Storage = node.Storage, Random = new Random(random.Next()), Applied = snapshot.Metadata.Index,
            ElectionTicks = 10, HeartbeatTicks = 1, MaxSizePerMessage = maxSizePerMessage, MaxInflightMessages = maxInflight,
            PreVote = preVote, CheckQuorum = checkQuorum,
        });
    }

    private static void RestoreStateMachine(SimNode node, Snapshot snapshot)
    {
        node.AppliedIndex = snapshot.Metadata.Index;
        node.StateHash = snapshot.Data.Length == 16 ? BinaryPrimitives.ReadUInt64LittleEndian(snapshot.Data.Span[8..]) : 0;
        node.ConfState = snapshot.Metadata.ConfState;
    }

    private void Compact()
    {
        var node = RandomLive();
        if (node is null || node.AppliedIndex <= node.Storage.Snapshot().Metadata.Index) return;
        var data = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(data, node.AppliedIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), node.StateHash);
        node.Storage.CreateSnapshot(node.AppliedIndex, node.ConfState, data);
        var keep = (ulong)random.Next(4);
        var compactTo = node.AppliedIndex > keep ? node.AppliedIndex - keep : node.AppliedIndex;
        if (compactTo >= node.Storage.FirstIndex()) node.Storage.Compact(compactTo);
        Log($"compact {node.Id} snapshot@{node.AppliedIndex} compact<{compactTo}");
    }

    private void TransferLeader()
    {
        var leader = Leader();
        if (leader is null) return;
        var voters = leader.Raw!.Status.ConfState.Voters;
        var target = voters[random.Next(voters.Count)];
        leader.Raw.TransferLeader(target);
        Log($"transfer leader {leader.Id} -> {target}");
    }
}
