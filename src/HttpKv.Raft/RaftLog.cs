namespace HttpKv.Raft;

/// <summary>Entries (and a snapshot) that Raft has accepted but the caller has not yet persisted.
/// entries[i] has index Offset + i.</summary>
internal sealed class UnstableLog
{
    public Snapshot? Snapshot;
    public List<Entry> Entries = [];
    public ulong Offset;

    public ulong? MaybeFirstIndex() => Snapshot is null ? null : Snapshot.Metadata.Index + 1;

    public ulong? MaybeLastIndex() =>
        Entries.Count > 0 ? Offset + (ulong)Entries.Count - 1 : Snapshot?.Metadata.Index;

    public ulong? MaybeTerm(ulong index)
    {
        if (index < Offset)
            return Snapshot is not null && Snapshot.Metadata.Index == index ? Snapshot.Metadata.Term : null;
        var last = MaybeLastIndex();
        if (last is null || index > last) return null;
        return Entries[(int)(index - Offset)].Term;
    }

    /// <summary>The caller persisted entries up to index (with that term): they are stable now.</summary>
    public void StableTo(ulong index, ulong term)
    {
        if (MaybeTerm(index) != term || index < Offset) return; // overwritten since the Ready was made
        Entries.RemoveRange(0, (int)(index + 1 - Offset));
        Offset = index + 1;
    }

    public void StableSnapshotTo(ulong index)
    {
        if (Snapshot is not null && Snapshot.Metadata.Index == index) Snapshot = null;
    }

    public void Restore(Snapshot snapshot)
    {
        Offset = snapshot.Metadata.Index + 1;
        Entries = [];
        Snapshot = snapshot;
    }

    public void TruncateAndAppend(IReadOnlyList<Entry> entries)
    {
        var first = entries[0].Index;
        if (first == Offset + (ulong)Entries.Count)
        {
            Entries.AddRange(entries);
        }
        else if (first <= Offset)
        {
            Offset = first; // replaces everything unstable (and masks stable entries from first on)
            Entries = [.. entries];
        }
        else
        {
            Entries.RemoveRange((int)(first - Offset), Entries.Count - (int)(first - Offset));
            Entries.AddRange(entries);
        }
    }

    public IEnumerable<Entry> Slice(ulong low, ulong high) => Entries.Skip((int)(low - Offset)).Take((int)(high - low));

    /// <summary>A copy of the entries from low to high (exclusive), all of them in this tail.</summary>
    public List<Entry> Range(ulong low, ulong high) => Entries.GetRange((int)(low - Offset), (int)(high - low));
}

/// <summary>The log as Raft sees it: the storage's stable prefix followed by the unstable tail, plus the
/// commit and applied indexes. Invariant: applied ≤ committed ≤ last index.</summary>
internal sealed class RaftLog
{
    private readonly IRaftStorage storage;
    private readonly UnstableLog unstable = new();
    private readonly ulong maxApplySize;

    public ulong Committed { get; private set; }
    public ulong Applied { get; private set; }

    public RaftLog(IRaftStorage storage, ulong maxApplySize)
    {
        this.storage = storage;
        this.maxApplySize = maxApplySize;
        unstable.Offset = storage.LastIndex() + 1;
        Committed = storage.FirstIndex() - 1;
        Applied = storage.FirstIndex() - 1;
    }

    public UnstableLog Unstable => unstable;

    public ulong FirstIndex() => unstable.MaybeFirstIndex() ?? storage.FirstIndex();

    public ulong LastIndex() => unstable.MaybeLastIndex() ?? storage.LastIndex();

    public ulong LastTerm() => TermOrZero(LastIndex());

    /// <summary>The term at index, or null when it is compacted or beyond the end.</summary>
    public ulong? Term(ulong index)
    {
        if (index < FirstIndex() - 1 || index > LastIndex()) return null;
        var term = unstable.MaybeTerm(index);
        if (term is not null) return term;
        try
        {
            return storage.Term(index);
        }
        catch (LogCompactedException)
        {
            return null;
        }
        catch (LogUnavailableException)
        {
            return null;
        }
    }

    public ulong TermOrZero(ulong index) => Term(index) ?? 0;

    public bool MatchTerm(ulong index, ulong term) => Term(index) == term;

    public bool IsUpToDate(ulong lastIndex, ulong lastTerm) =>
        lastTerm > LastTerm() || (lastTerm == LastTerm() && lastIndex >= LastIndex());

    /// <summary>The follower's side of Append: returns the last new index, or null when the entry before
    /// <paramref name="entries"/> does not match.</summary>
    public ulong? MaybeAppend(ulong index, ulong logTerm, ulong committed, IReadOnlyList<Entry> entries)
    {
        if (!MatchTerm(index, logTerm)) return null;
        var lastNew = index + (ulong)entries.Count;
        var conflict = FindConflict(entries);
        if (conflict != 0)
        {
            Invariant.Check(conflict > Committed, $"entry {conflict} conflicts with committed entry (committed {Committed})");
            Append([.. entries.Skip((int)(conflict - index - 1))]);
        }
        CommitTo(Math.Min(committed, lastNew));
        return lastNew;
    }

    /// <summary>The index of the first entry that is new or has a different term than ours; 0 if none.</summary>
    private ulong FindConflict(IReadOnlyList<Entry> entries)
    {
        foreach (var entry in entries)
            if (!MatchTerm(entry.Index, entry.Term)) return entry.Index;
        return 0;
    }

    /// <summary>The largest index ≤ <paramref name="index"/> whose term is ≤ <paramref name="term"/> (or where
    /// our knowledge stops): where two logs may match, for fast backtracking.</summary>
    public ulong FindConflictByTerm(ulong index, ulong term)
    {
        if (index > LastIndex()) return index;
        while (true)
        {
            var ourTerm = Term(index);
            if (ourTerm is null || ourTerm <= term) return index;
            index--;
        }
    }

    public ulong Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0) return LastIndex();
        Invariant.Check(entries[0].Index > Committed, $"append at {entries[0].Index} is before committed {Committed}");
        unstable.TruncateAndAppend(entries);
        return LastIndex();
    }

    public void CommitTo(ulong index)
    {
        if (index <= Committed) return;
        Invariant.Check(index <= LastIndex(), $"commit {index} is beyond the last index {LastIndex()}");
        Committed = index;
    }

    /// <summary>Commits index if it is ours in <paramref name="term"/> (the leader's rule: only its own term by quorum).</summary>
    public bool MaybeCommit(ulong index, ulong term)
    {
        if (index <= Committed || TermOrZero(index) != term) return false;
        CommitTo(index);
        return true;
    }

    public void AppliedTo(ulong index)
    {
        if (index == 0 || index <= Applied) return;
        Invariant.Check(index <= Committed, $"applied {index} beyond committed {Committed}");
        Applied = index;
    }

    public IReadOnlyList<Entry> UnstableEntries() => [.. unstable.Entries];

    public bool HasCommittedEntriesToApply() => Committed > Math.Max(Applied, FirstIndex() - 1);

    public IReadOnlyList<Entry> CommittedEntriesToApply()
    {
        var low = Math.Max(Applied + 1, FirstIndex());
        return Committed + 1 > low ? Slice(low, Committed + 1, maxApplySize) : [];
    }

    /// <summary>Entries from low to the end, at most maxSize bytes; null when low is compacted.</summary>
    public IReadOnlyList<Entry>? EntriesFrom(ulong low, ulong maxSize)
    {
        if (low > LastIndex()) return [];
        if (low < FirstIndex()) return null;
        return Slice(low, LastIndex() + 1, maxSize);
    }

    private IReadOnlyList<Entry> Slice(ulong low, ulong high, ulong maxSize)
    {
        // One copy when the range lies wholly in the storage or wholly in the unstable tail (the common cases:
        // a follower catching up, and entries committed as soon as they were appended).
        if (high <= unstable.Offset) return storage.Entries(low, high, maxSize);
        if (low >= unstable.Offset) return LimitSize(unstable.Range(low, high), maxSize);
        var result = new List<Entry>((int)(high - low));
        if (low < unstable.Offset)
        {
            result.AddRange(storage.Entries(low, Math.Min(high, unstable.Offset), maxSize));
            if (result.Count < (int)(Math.Min(high, unstable.Offset) - low)) return result; // cut by size
        }
        if (high > unstable.Offset) result.AddRange(unstable.Slice(Math.Max(low, unstable.Offset), high));
        return LimitSize(result, maxSize);
    }

    public Snapshot Snapshot() => unstable.Snapshot ?? storage.Snapshot();

    public void Restore(Snapshot snapshot)
    {
        Committed = snapshot.Metadata.Index;
        unstable.Restore(snapshot);
    }

    public bool HasUnappliedConfChange()
    {
        var low = Math.Max(Applied + 1, FirstIndex());
        if (Committed < low) return false;
        return Slice(low, Committed + 1, ulong.MaxValue).Any(entry => entry.Type == EntryType.ConfChange);
    }

    internal static IReadOnlyList<Entry> LimitSize(List<Entry> entries, ulong maxSize)
    {
        if (entries.Count == 0) return entries;
        ulong size = (ulong)entries[0].Data.Length;
        var count = 1;
        while (count < entries.Count && size + (ulong)entries[count].Data.Length <= maxSize)
        {
            size += (ulong)entries[count].Data.Length;
            count++;
        }
        if (count < entries.Count) entries.RemoveRange(count, entries.Count - count);
        return entries;
    }
}

/// <summary>Safety assertions that stay on in Release: a broken Raft invariant is a bug, never an operating error.</summary>
internal static class Invariant
{
    public static void Check(bool condition, string message)
    {
        if (!condition) throw new InvalidOperationException("raft invariant violated: " + message);
    }
}
