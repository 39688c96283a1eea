using System.Collections.Frozen;
using System.Globalization;

namespace HttpKv.Storage;

/// <summary>Named points in the write path where a robustness test can make the member crash or stall, enabled by
/// the environment variable <c>HTTPKV_FAILPOINTS</c> when the process starts, as etcd's gofail failpoints:
/// <c>HTTPKV_FAILPOINTS="walAfterSync=panic@3;backendBeforeCommit=sleep(200)"</c>.
///
/// Actions: <c>panic</c> (crash at once, as kill -9 would: no flush, no clean-up), <c>panic@N</c> (crash on the N-th
/// time the point is reached), <c>sleep(MS)</c> (stall every time). With the variable unset, <see cref="Hit"/> is one
/// read of a static readonly field, which the JIT folds away: failpoints cost nothing in production.</summary>
public static class Failpoints
{
    public const string Variable = "HTTPKV_FAILPOINTS";

    /// <summary>The points the server has, in the order a write passes them.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "walBeforeWrite",       // a batch of WAL records is encoded, nothing written yet
        "walBeforeSync",        // written to the segment, not yet fdatasync'ed
        "walAfterSync",         // durable in the WAL, not yet acknowledged or applied
        "raftBeforeApply",      // committed entries about to be applied
        "backendBeforeCommit",  // the apply batch's backend transaction is built, not committed
        "backendAfterCommit",   // the backend committed, watchers and waiters not yet told
        "snapshotBeforeSend",   // a leader is about to stream a backend snapshot to a follower
        "snapshotBeforeInstall",// a follower received a snapshot and is about to swap its backend
        "compactBeforeCommit",  // a compaction's backend transaction is built, not committed
        "defragBeforeRename",   // a defragmentation's copy is complete and synced, not yet renamed over the file
        "defragAfterRename",    // the copy has replaced the file, the writer not yet switched to it
    ];

    private static readonly bool Enabled = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable));
    private static readonly FrozenDictionary<string, Failpoint> Points = Enabled ? ParseEnvironment() : FrozenDictionary<string, Failpoint>.Empty;

    /// <summary>What HTTPKV_FAILPOINTS enables ("" when unset), for the start-up log.</summary>
    public static string Active => Enabled ? Environment.GetEnvironmentVariable(Variable)! : "";

    /// <summary>Why HTTPKV_FAILPOINTS could not be read, or null: the member refuses to start with it.</summary>
    public static string? Error { get; private set; }

    private static FrozenDictionary<string, Failpoint> ParseEnvironment()
    {
        try
        {
            return Parse(Environment.GetEnvironmentVariable(Variable)!).ToFrozenDictionary(StringComparer.Ordinal);
        }
        catch (ArgumentException exception)
        {
            Error = exception.Message;
            return FrozenDictionary<string, Failpoint>.Empty;
        }
    }

    /// <summary>One enabled failpoint and what it does.</summary>
    public sealed class Failpoint(string action, int at, int sleepMs)
    {
        private int hits;
        public void Hit(string name)
        {
            var hit = Interlocked.Increment(ref hits);
            if (action == "sleep") Thread.Sleep(sleepMs);
            else if (hit == at) Environment.FailFast($"failpoint {name} (hit {hit})");
        }
    }

    /// <summary>Reached a failpoint: does what HTTPKV_FAILPOINTS says for it, if anything.</summary>
    public static void Hit(string name)
    {
        if (!Enabled) return;
        if (Points.TryGetValue(name, out var point)) point.Hit(name);
    }

    /// <summary>Parses <c>name=action;name=action</c>; an unknown name or action is an error, so a typo cannot pass
    /// for a test that injected nothing.</summary>
    public static IReadOnlyDictionary<string, Failpoint> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var points = new Dictionary<string, Failpoint>(StringComparer.Ordinal);
        foreach (var term in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = term.Split('=', 2);
            if (parts.Length != 2 || !Names.Contains(parts[0])) throw new ArgumentException($"{Variable}: unknown failpoint in \"{term}\" (known: {string.Join(", ", Names)})");
            var action = parts[1];
            if (action == "panic") points[parts[0]] = new Failpoint("panic", 1, 0);
            else if (action.StartsWith("panic@", StringComparison.Ordinal) && int.TryParse(action[6..], NumberStyles.None, CultureInfo.InvariantCulture, out var at) && at > 0)
                points[parts[0]] = new Failpoint("panic", at, 0);
            else if (action.StartsWith("sleep(", StringComparison.Ordinal) && action.EndsWith(')')
                     && int.TryParse(action[6..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
                points[parts[0]] = new Failpoint("sleep", 0, ms);
            else throw new ArgumentException($"{Variable}: unknown action \"{action}\" (panic, panic@N, sleep(MS))");
        }
        return points;
    }
}
