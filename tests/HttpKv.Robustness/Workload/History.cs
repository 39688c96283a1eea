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
    /// <summary>Breaks in the revisions the watcher was given, found as they happened (see <see cref="Saw"/>).</summary>
    public List<RevisionGap> Gaps { get; } = [];

    /// <summary>The last revision the watcher has been given everything through: its events are of every key, and
    /// every revision after the first (1, the empty store's) changes at least one key, so revisions must come one by
    /// one, whichever member serves them and however often the watcher resumes.</summary>
    public long SeenThrough { get; private set; } = Math.Max(startRevision, 2) - 1;

    /// <summary>An event at <paramref name="revision"/> from <paramref name="member"/>, at <paramref name="at"/> µs into the run.</summary>
    public void Saw(long revision, string member, long at) => Advance(revision, member, at, byProgress: false);

    /// <summary>A progress notification at <paramref name="revision"/>: every revision through it has been sent.</summary>
    public void Progressed(long revision, string member, long at)
    {
        if (revision > SeenThrough) Advance(revision + 1, member, at, byProgress: true);
    }

    /// <summary>The watch was cancelled with <paramref name="compactRevision"/>: the revisions before it are gone, as etcd reports.</summary>
    public void Compacted(long compactRevision) => SeenThrough = Math.Max(SeenThrough, compactRevision - 1);

    private void Advance(long next, string member, long at, bool byProgress)
    {
        if (next > SeenThrough + 1) Gaps.Add(new RevisionGap(SeenThrough, next, member, at, byProgress));
        SeenThrough = Math.Max(SeenThrough, byProgress ? next - 1 : next);
    }
}

/// <summary>A watcher given everything through <see cref="After"/> was next given <see cref="Next"/> (an event at it, or
/// a progress notification at <see cref="Next"/> - 1) by <see cref="Member"/>, <see cref="At"/> µs into the run: the
/// revisions between never came.</summary>
public sealed record RevisionGap(long After, long Next, string Member, long At, bool ByProgress)
{
    public override string ToString() =>
        $"revisions {After + 1}..{Next - 1} never came: after @{After}, {Member} sent " +
        (ByProgress ? $"a progress notification at @{Next - 1}" : $"an event at @{Next}") + $" ({At / 1000} ms into the run)";
}
