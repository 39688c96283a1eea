namespace HttpKv.Robustness.Checking;

public enum Verdict
{
    Linearizable,
    NotLinearizable,
    /// <summary>The search ran out of time: neither proved nor refuted.</summary>
    Unknown,
}

/// <summary>The result for a whole history, and for a violation the key, the operations on it and where the search
/// got furthest: the operation whose return no order could reach (<see cref="Blocked"/>), with the states the partition
/// could be in there (<see cref="StateAtBlock"/>) — the place to look, as Porcupine's longest partial linearization.</summary>
public sealed record CheckResult(Verdict Verdict, string? Key = null, IReadOnlyList<Operation>? Operations = null,
    Operation? Blocked = null, string? StateAtBlock = null)
{
    /// <summary>The partitions the search could not decide in time (verdict Unknown).</summary>
    public IReadOnlyList<string> Undecided { get; init; } = [];
    /// <summary>The partition that took longest, and how long.</summary>
    public (string Partition, int Operations, TimeSpan Took) Slowest { get; init; }
}

/// <summary>Decides whether a history is linearizable against a key-value model: Wing and Gong's search with Lowe's
/// memoisation of (linearized set, state), as Porcupine does it. The history is split by partition first
/// (P-compositionality: a key-value store is linearizable iff each independent part is), so each search is small. A
/// partition is a plain key, a group of keys that multi-key txns and ranges use together, or a lease with the keys
/// attached to it (a revoke deletes them all at once, and a put with the lease fails once it is gone). An unknown
/// write makes the model nondeterministic; it keeps the set of possible states.</summary>
public static class LinearizabilityChecker
{
    public static CheckResult Check(IEnumerable<Operation> history, TimeSpan timeLimit)
    {
        ArgumentNullException.ThrowIfNull(history);
        var deadline = DateTime.UtcNow + timeLimit;
        var undecided = new List<string>();
        (string, int, TimeSpan) slowest = ("", 0, TimeSpan.Zero);
        foreach (var group in history.GroupBy(op => op.PartitionKey, StringComparer.Ordinal).OrderBy(group => group.Key, StringComparer.Ordinal))
        {
            var operations = group.ToList();
            var started = System.Diagnostics.Stopwatch.StartNew();
            var (verdict, blocked, stateAtBlock) = CheckKey(operations, deadline);
            if (started.Elapsed > slowest.Item3) slowest = (group.Key, operations.Count, started.Elapsed);
            switch (verdict)
            {
                case Verdict.NotLinearizable:
                    return new CheckResult(Verdict.NotLinearizable, group.Key, operations.OrderBy(op => op.Call).ToList(), blocked, stateAtBlock?.ToString()) { Slowest = slowest };
                case Verdict.Unknown:
                    undecided.Add(group.Key);
                    break;
            }
        }
        return new CheckResult(undecided.Count > 0 ? Verdict.Unknown : Verdict.Linearizable) { Undecided = undecided, Slowest = slowest };
    }

    /// <summary>A node of the doubly linked list of call and return events, in time order.</summary>
    private sealed class Event(Operation op, bool isCall)
    {
        public Operation Op { get; } = op;
        public bool IsCall { get; } = isCall;
        public int Index { get; set; }
        public Event? Match { get; set; } // a call's return
        public Event? Previous { get; set; }
        public Event? Next { get; set; }
    }

    private static (Verdict Verdict, Operation? Blocked, KvStates? StateAtBlock) CheckKey(List<Operation> operations, DateTime deadline)
    {
        var events = new List<Event>(operations.Count * 2);
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i] with { Return = operations[i].Unknown ? long.MaxValue : operations[i].Return };
            var call = new Event(op, true) { Index = i };
            var ret = new Event(op, false) { Index = i };
            call.Match = ret;
            events.Add(call);
            events.Add(ret);
        }
        // In time order; at equal times a call comes first, so touching operations count as concurrent.
        events.Sort((a, b) =>
        {
            var timeA = a.IsCall ? a.Op.Call : a.Op.Return;
            var timeB = b.IsCall ? b.Op.Call : b.Op.Return;
            return timeA != timeB ? timeA.CompareTo(timeB) : b.IsCall.CompareTo(a.IsCall);
        });
        var head = new Event(operations.Count > 0 ? operations[0] : new Operation(-1, -1, OpKind.Get, "", 0, 0), true);
        var last = head;
        foreach (var e in events)
        {
            last.Next = e;
            e.Previous = last;
            last = e;
        }

        var linearized = new bool[operations.Count];
        var cache = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<(Event Call, KvStates State)>();
        var state = KvStates.Initial(operations);
        var entry = head.Next;
        var steps = 0;
        var deepest = -1;
        Operation? blocked = null;
        KvStates? stateAtBlock = null;
        while (head.Next is not null)
        {
            if (++steps % 4096 == 0 && DateTime.UtcNow > deadline) return (Verdict.Unknown, null, null);
            if (entry is null) return (Verdict.NotLinearizable, blocked, stateAtBlock); // cannot happen: a return always ends the scan
            if (entry.IsCall)
            {
                var next = state.Step(entry.Op);
                if (next is not null)
                {
                    linearized[entry.Index] = true;
                    if (cache.Add(Key(linearized, next)))
                    {
                        stack.Push((entry, state));
                        state = next;
                        Lift(entry);
                        entry = head.Next;
                        continue;
                    }
                    linearized[entry.Index] = false;
                }
                entry = entry.Next;
            }
            else
            {
                // A return of an operation not yet linearized: every order tried so far fails; undo the last choice.
                if (stack.Count > deepest)
                {
                    (deepest, blocked, stateAtBlock) = (stack.Count, entry.Op, state);
                }
                if (stack.Count == 0) return (Verdict.NotLinearizable, blocked, stateAtBlock);
                var (call, previous) = stack.Pop();
                state = previous;
                linearized[call.Index] = false;
                Unlift(call);
                entry = call.Next;
            }
        }
        return (Verdict.Linearizable, null, null);
    }

    private static string Key(bool[] linearized, KvStates state)
    {
        var text = new char[linearized.Length];
        for (var i = 0; i < linearized.Length; i++) text[i] = linearized[i] ? '1' : '0';
        return new string(text) + "|" + state.Memo;
    }

    private static void Lift(Event call)
    {
        call.Previous!.Next = call.Next;
        if (call.Next is not null) call.Next.Previous = call.Previous;
        var ret = call.Match!;
        ret.Previous!.Next = ret.Next;
        if (ret.Next is not null) ret.Next.Previous = ret.Previous;
    }

    private static void Unlift(Event call)
    {
        var ret = call.Match!;
        ret.Previous!.Next = ret;
        if (ret.Next is not null) ret.Next.Previous = ret;
        call.Previous!.Next = call;
        if (call.Next is not null) call.Next.Previous = call;
    }
}

/// <summary>The states a partition may be in: each a value (or absence) for each of its keys and, for a lease's
/// partition, whether the lease exists. More than one only after operations of unknown outcome.</summary>
public sealed class KvStates
{
    private const string Absent = "\u0000";
    private readonly Dictionary<string, int> slots;
    private readonly SortedSet<string> worlds; // "1"/"0" (lease alive) then each slot's value, '\u0001'-separated

    private KvStates(Dictionary<string, int> slots, SortedSet<string> worlds)
    {
        this.slots = slots;
        this.worlds = worlds;
    }

    /// <summary>Every key of the partition absent, its lease not granted yet.</summary>
    public static KvStates Initial(IEnumerable<Operation> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var op in operations)
        {
            if (op.Kind is not (OpKind.Range or OpKind.LeaseGrant or OpKind.LeaseRevoke or OpKind.LeaseKeepAlive)) keys.Add(op.Key);
            foreach (var write in op.Writes ?? []) keys.Add(write.Key);
            foreach (var read in op.Read ?? new Dictionary<string, string>()) keys.Add(read.Key);
        }
        var slots = keys.Select((key, i) => (key, i)).ToDictionary(pair => pair.key, pair => pair.i, StringComparer.Ordinal);
        return new KvStates(slots, new SortedSet<string>(StringComparer.Ordinal) { Encode(false, Enumerable.Repeat(Absent, slots.Count).ToArray()) });
    }

    private static string Encode(bool alive, string[] values) => (alive ? "1" : "0") + string.Concat(values.Select(value => "\u0001" + value));

    /// <summary>The states after <paramref name="op"/>, or null if its recorded outcome is impossible from every state.</summary>
    public KvStates? Step(Operation op)
    {
        ArgumentNullException.ThrowIfNull(op);
        var next = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var world in worlds)
        {
            var parts = world.Split('\u0001');
            var alive = parts[0] == "1";
            var values = parts[1..];
            string? Get(string key) => values[slots[key]] is var value && value == Absent ? null : value;
            string With(bool lease, params (string Key, string? Value)[] writes)
            {
                var copy = (string[])values.Clone();
                foreach (var (key, value) in writes) copy[slots[key]] = value ?? Absent;
                return Encode(lease, copy);
            }
            switch (op.Kind)
            {
                case OpKind.Get:
                    if (op.Unknown || Get(op.Key) == op.Observed) next.Add(world);
                    break;
                case OpKind.Range:
                    if (op.Unknown || slots.Keys.All(key => Get(key) == op.Read!.GetValueOrDefault(key))) next.Add(world);
                    break;
                case OpKind.Put:
                    next.Add(With(alive, (op.Key, op.Value)));
                    if (op.Unknown) next.Add(world);
                    break;
                case OpKind.Delete:
                    if (op.Unknown) next.Add(world);
                    if (op.Unknown || op.Succeeded == (Get(op.Key) is not null)) next.Add(With(alive, (op.Key, null))); // it deleted something iff there was something
                    break;
                case OpKind.CompareAndSwap or OpKind.Txn:
                    var matches = Get(op.Key) == op.Expected;
                    var swapped = op.Kind == OpKind.Txn
                        ? With(alive, [.. op.Writes!.Select(write => (write.Key, write.Value))])
                        : With(alive, (op.Key, op.Value));
                    if (op.Unknown)
                    {
                        next.Add(matches ? swapped : world);
                        next.Add(world);
                    }
                    else if (matches && op.Succeeded) next.Add(swapped);
                    else if (!matches && !op.Succeeded) next.Add(world);
                    break;
                case OpKind.LeaseGrant:
                    next.Add(With(true));
                    if (op.Unknown) next.Add(world);
                    break;
                case OpKind.LeasePut:
                    if (op.Unknown || !alive && !op.Succeeded) next.Add(world); // not found: only when the lease is gone
                    if (alive && (op.Unknown || op.Succeeded)) next.Add(With(true, (op.Key, op.Value)));
                    break;
                case OpKind.LeaseRevoke:
                    if (op.Unknown || !alive && !op.Succeeded) next.Add(world);
                    if (alive && (op.Unknown || op.Succeeded)) next.Add(With(false, [.. slots.Keys.Select(key => (key, (string?)null))]));
                    break;
                case OpKind.LeaseKeepAlive:
                    if (op.Unknown || alive == op.Succeeded) next.Add(world);
                    break;
            }
        }
        return next.Count == 0 ? null : new KvStates(slots, next);
    }

    /// <summary>The states as one string, for the search's memo.</summary>
    internal string Memo => string.Join("\u0002", worlds);

    /// <summary>A single key's possible values ("\u0000" absent), comma-separated; else each possible state of the
    /// partition's keys (and lease).</summary>
    public override string ToString() => slots.Count == 1 && worlds.All(world => world[0] == '0')
        ? string.Join(",", worlds.Select(world => world.Split('\u0001')[1]))
        : string.Join(" | ", worlds.Select(world =>
    {
        var parts = world.Split('\u0001');
        return (parts[0] == "1" ? "lease exists; " : "") + string.Join(", ", slots.OrderBy(slot => slot.Value)
            .Select(slot => $"{slot.Key}={(parts[1 + slot.Value] == Absent ? "∅" : parts[1 + slot.Value])}"));
    }));
}
