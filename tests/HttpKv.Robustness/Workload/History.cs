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

    public ConcurrentQueue<string> Faults { get; } = new();

    /// <summary>The revisions the run compacted to, in order.</summary>
    public ConcurrentQueue<long> Compactions { get; } = new();
}

/// <summary>One event as a watcher saw it.</summary>
public sealed record SeenEvent(long Revision, string Key, bool IsDelete, string? Value);

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
}
