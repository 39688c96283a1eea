namespace HttpKv.Robustness.Checking;

public enum Verdict
{
    Linearizable,
    NotLinearizable,
    /// <summary>The search ran out of time: neither proved nor refuted.</summary>
    Unknown,
}

/// <summary>The result for a whole history, and for a violation the key, the operations on it and where the search
/// got furthest: the operation whose return no order could reach (<see cref="Blocked"/>), with the values the key
/// could hold there (<see cref="StateAtBlock"/>) — the place to look, as Porcupine's longest partial linearization.</summary>
public sealed record CheckResult(Verdict Verdict, string? Key = null, IReadOnlyList<Operation>? Operations = null,
    Operation? Blocked = null, string? StateAtBlock = null);

/// <summary>Decides whether a history of single-key operations is linearizable against a key-value register model:
/// Wing and Gong's search with Lowe's memoisation of (linearized set, state), as Porcupine does it. The history is
/// split by key first (P-compositionality: a key-value store is linearizable iff each key is), so each search is
/// small. A register with an unknown write is nondeterministic; the model keeps the set of possible values.</summary>
public static class LinearizabilityChecker
{
    public static CheckResult Check(IEnumerable<Operation> history, TimeSpan timeLimit)
    {
        ArgumentNullException.ThrowIfNull(history);
        var deadline = DateTime.UtcNow + timeLimit;
        var unknown = false;
        foreach (var group in history.GroupBy(op => op.Key, StringComparer.Ordinal).OrderBy(group => group.Key, StringComparer.Ordinal))
        {
            var operations = group.ToList();
            var (verdict, blocked, stateAtBlock) = CheckKey(operations, deadline);
            switch (verdict)
            {
                case Verdict.NotLinearizable:
                    return new CheckResult(Verdict.NotLinearizable, group.Key, operations.OrderBy(op => op.Call).ToList(), blocked, stateAtBlock?.ToString());
                case Verdict.Unknown:
                    unknown = true;
                    break;
            }
        }
        return new CheckResult(unknown ? Verdict.Unknown : Verdict.Linearizable);
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

    private static (Verdict Verdict, Operation? Blocked, RegisterStates? StateAtBlock) CheckKey(List<Operation> operations, DateTime deadline)
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
        var stack = new Stack<(Event Call, RegisterStates State)>();
        var state = RegisterStates.Initial;
        var entry = head.Next;
        var steps = 0;
        var deepest = -1;
        Operation? blocked = null;
        RegisterStates? stateAtBlock = null;
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

    private static string Key(bool[] linearized, RegisterStates state)
    {
        var text = new char[linearized.Length];
        for (var i = 0; i < linearized.Length; i++) text[i] = linearized[i] ? '1' : '0';
        return new string(text) + "|" + state;
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

/// <summary>The set of values a key may hold (null: absent); more than one only after writes of unknown outcome.</summary>
public sealed class RegisterStates
{
    private readonly SortedSet<string> values; // "\u0000" stands for absent
    private const string Absent = "\u0000";

    private RegisterStates(SortedSet<string> values) => this.values = values;

    public static RegisterStates Initial { get; } = new(new SortedSet<string>(StringComparer.Ordinal) { Absent });

    /// <summary>The states after <paramref name="op"/>, or null if its recorded outcome is impossible from every state.</summary>
    public RegisterStates? Step(Operation op)
    {
        ArgumentNullException.ThrowIfNull(op);
        var next = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var current = value == Absent ? null : value;
            switch (op.Kind)
            {
                case OpKind.Get:
                    if (op.Unknown || current == op.Observed) next.Add(value);
                    break;
                case OpKind.Put:
                    next.Add(op.Value ?? Absent);
                    if (op.Unknown) next.Add(value);
                    break;
                case OpKind.Delete:
                    if (op.Unknown) next.Add(value);
                    if (op.Unknown || op.Succeeded == (current is not null)) next.Add(Absent); // it deleted something iff there was something
                    break;
                case OpKind.CompareAndSwap:
                    var matches = current == op.Expected;
                    if (op.Unknown)
                    {
                        next.Add(matches ? op.Value ?? Absent : value);
                        next.Add(value);
                    }
                    else if (matches && op.Succeeded) next.Add(op.Value ?? Absent);
                    else if (!matches && !op.Succeeded) next.Add(value);
                    break;
            }
        }
        return next.Count == 0 ? null : new RegisterStates(next);
    }

    public override string ToString() => string.Join(",", values);
}
