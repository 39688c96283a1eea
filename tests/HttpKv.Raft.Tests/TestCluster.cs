using HttpKv.Raft;

namespace HttpKv.Raft.Tests;

/// <summary>A synchronous cluster for scenario tests: each node's Ready is persisted to its MemoryStorage,
/// committed entries are recorded (conf changes applied), and messages are delivered until none are left,
/// except those the test cuts (isolated nodes, dropped links) or wants to look at first.</summary>
internal sealed class TestCluster
{
    public sealed class Node(ulong id, MemoryStorage storage, RawNode raw)
    {
        public ulong Id { get; } = id;
        public MemoryStorage Storage { get; } = storage;
        public RawNode Raw { get; set; } = raw;
        public List<Entry> Applied { get; } = [];
        public List<ReadState> ReadStates { get; } = [];
        public ConfState? ConfState { get; set; }
    }

    public readonly SortedDictionary<ulong, Node> Nodes = [];
    private readonly HashSet<(ulong From, ulong To)> cut = [];
    private readonly Random random = new(7);
    public List<Message> Sent { get; } = [];
    public bool PreVote { get; }
    public bool CheckQuorum { get; }

    public int MaxInflight { get; }

    public TestCluster(params ulong[] voters) : this(voters, preVote: true, checkQuorum: true) { }

    public TestCluster(ulong[] voters, bool preVote, bool checkQuorum, int maxInflight = 256)
    {
        PreVote = preVote;
        CheckQuorum = checkQuorum;
        MaxInflight = maxInflight;
        foreach (var id in voters) Add(id, MemoryStorage.ForNewCluster(voters));
    }

    public Node Add(ulong id, MemoryStorage storage)
    {
        var node = new Node(id, storage, NewRaw(id, storage));
        Nodes[id] = node;
        return node;
    }

    public RawNode NewRaw(ulong id, MemoryStorage storage, ulong applied = 0) => new(new RaftConfig
    {
        Id = id, Storage = storage, Random = new Random(random.Next()), PreVote = PreVote, CheckQuorum = CheckQuorum,
        Applied = applied, MaxSizePerMessage = 1 << 20, MaxInflightMessages = MaxInflight,
    });

    public RawNode this[ulong id] => Nodes[id].Raw;

    public void Isolate(ulong id)
    {
        foreach (var other in Nodes.Keys.Where(o => o != id))
        {
            cut.Add((id, other));
            cut.Add((other, id));
        }
    }

    public void Cut(ulong from, ulong to) => cut.Add((from, to));

    public void Heal() => cut.Clear();

    /// <summary>Runs every node's Ready loop and delivers messages until the cluster is quiet.</summary>
    public void Stabilize(int maxRounds = 1000)
    {
        for (var round = 0; round < maxRounds; round++)
        {
            var messages = CollectReadies();
            if (messages.Count == 0) return;
            foreach (var message in messages) Deliver(message);
        }
        throw new InvalidOperationException("cluster did not stabilize");
    }

    /// <summary>Processes each node's Ready once and returns the messages they send (undelivered).</summary>
    public List<Message> CollectReadies()
    {
        var messages = new List<Message>();
        foreach (var node in Nodes.Values)
        {
            while (node.Raw.HasReady()) messages.AddRange(ProcessReady(node));
        }
        Sent.AddRange(messages);
        return messages;
    }

    public void Deliver(Message message)
    {
        if (cut.Contains((message.From, message.To)) || !Nodes.TryGetValue(message.To, out var target))
        {
            if (message.Type == MessageType.Snapshot && Nodes.TryGetValue(message.From, out var sender)) sender.Raw.ReportSnapshot(message.To, false);
            return;
        }
        target.Raw.Step(Message.Decode(message.Encode()));
    }

    private IReadOnlyList<Message> ProcessReady(Node node)
    {
        var ready = node.Raw.GetReady();
        if (ready.Snapshot is not null)
        {
            node.Storage.ApplySnapshot(ready.Snapshot);
            node.ConfState = ready.Snapshot.Metadata.ConfState;
        }
        node.Storage.Append(ready.Entries);
        if (ready.HardState is { } hardState) node.Storage.SetHardState(hardState);
        foreach (var entry in ready.CommittedEntries)
        {
            node.Applied.Add(entry);
            if (entry.Type == EntryType.ConfChange) node.ConfState = node.Raw.ApplyConfChange(ConfChange.Decode(entry.Data.Span));
        }
        node.ReadStates.AddRange(ready.ReadStates);
        node.Raw.Advance(ready);
        return ready.Messages;
    }

    public void Tick(ulong id, int ticks)
    {
        for (var i = 0; i < ticks; i++) this[id].Tick();
    }

    public void TickAll(int ticks)
    {
        for (var i = 0; i < ticks; i++)
        {
            foreach (var node in Nodes.Values) node.Raw.Tick();
            Stabilize();
        }
    }

    /// <summary>Elects <paramref name="id"/> by campaigning it and delivering everything.</summary>
    public void Elect(ulong id)
    {
        this[id].Campaign();
        Stabilize();
        Assert.Equal(RaftRole.Leader, this[id].Status.Role);
    }

    public static byte[] Data(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static string Text(Entry entry) => System.Text.Encoding.UTF8.GetString(entry.Data.Span);

    public List<string> AppliedTexts(ulong id) =>
        Nodes[id].Applied.Where(e => e.Type == EntryType.Normal && e.Data.Length > 0).Select(Text).ToList();

    public List<(ulong Term, ulong Index)> LogOf(ulong id)
    {
        var storage = Nodes[id].Storage;
        return storage.Entries(storage.FirstIndex(), storage.LastIndex() + 1, ulong.MaxValue).Select(e => (e.Term, e.Index)).ToList();
    }
}
