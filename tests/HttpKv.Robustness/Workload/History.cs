using System.Collections.Concurrent;
using System.Diagnostics;
using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Workload;

/// <summary>Every request of a run with its invocation and completion time (one monotonic clock, in microseconds
/// since the run began), and every event each watcher received.</summary>
public sealed class History
{
    private readonly long origin = Stopwatch.GetTimestamp();
    private readonly ConcurrentBag<Operation> operations = [];
    private int nextId;

    public long Now => (long)Stopwatch.GetElapsedTime(origin).TotalMicroseconds;

    public int NextId() => Interlocked.Increment(ref nextId);

    public void Add(Operation operation) => operations.Add(operation);

    public IReadOnlyList<Operation> Operations => [.. operations.OrderBy(op => op.Call)];

    public ConcurrentBag<WatchLog> Watches { get; } = [];

    /// <summary>Every range over the whole prefix that got an answer (they are judged by revision, not by the
    /// per-partition model).</summary>
    public ConcurrentBag<RangeRead> Ranges { get; } = [];

    public ConcurrentQueue<string> Faults { get; } = new();

    /// <summary>The revisions the run compacted to, in order.</summary>
    public ConcurrentQueue<long> Compactions { get; } = new();
    /// <summary>Defragmentations that completed, by member endpoint.</summary>
    public ConcurrentQueue<string> Defragmentations { get; } = new();
}

/// <summary>One key-value pair of a range answer.</summary>
public sealed record RangeKv(string Key, string Value, long ModRevision);

/// <summary>A range over the whole workload prefix that one client sent to one member (<see cref="Endpoint"/>),
/// linearizable or serializable, with the header revision and every key-value pair it returned.</summary>
public sealed record RangeRead(int Id, int Client, int Endpoint, bool Serializable, long Call, long Return, long Revision, IReadOnlyList<RangeKv> Kvs)
{
    public override string ToString() =>
        $"#{Id} c{Client} {(Serializable ? "serializable" : "linearizable")} range on member {Endpoint} @{Revision} [{Call}, {Return}] -> " +
        string.Join(", ", Kvs.Select(kv => $"{kv.Key}={kv.Value}@{kv.ModRevision}"));
}

/// <summary>One event as a watcher saw it: <see cref="Response"/> numbers the WatchResponse it came in (per watcher,
/// across reconnections), <see cref="PrevValue"/> is its prev_kv (null: none given).</summary>
public sealed record SeenEvent(long Revision, string Key, bool IsDelete, string? Value, int Response = 0, string? PrevValue = null, long PrevModRevision = 0,
    long At = 0)
{
    /// <summary>What happened, without how it was delivered: watchers must agree on this.</summary>
    public (long Revision, string Key, bool IsDelete, string? Value) Change => (Revision, Key, IsDelete, Value);
}

/// <summary>What one watcher asked for and received, across its reconnections.</summary>
public sealed class WatchLog(int id, string member, long startRevision)
{
    public int Id { get; } = id;
    public string Member { get; } = member;
    public long StartRevision { get; } = startRevision;
    public List<SeenEvent> Events { get; } = [];
    public int Reconnects { get; set; }
    /// <summary>Revision ranges the watcher could not be given because they were compacted before it resumed (etcd
    /// cancels such a watch with the compact revision; a client must resync): missing changes there are allowed.</summary>
    public List<(long From, long To)> CompactedGaps { get; } = [];
    /// <summary>Progress notifications (answers to WatchProgressRequest): the header revision, and how many events had
    /// arrived before it. No event at or below that revision may arrive after it.</summary>
    public List<(int AfterEvents, long Revision)> Progress { get; } = [];
    /// <summary>Each reconnection: the start revision asked for, and how many events had arrived before it.</summary>
    public List<(int AfterEvents, long Revision)> Resumes { get; } = [];
    /// <summary>Why connections ended other than by a transport error (e.g. a cancellation without a compact revision).</summary>
    public List<string> Errors { get; } = [];
}
