namespace HttpKv.Raft;

/// <summary>The entries requested lie before the storage's first index: they were compacted into a snapshot.</summary>
public sealed class LogCompactedException(ulong index) : Exception($"raft: index {index} is compacted")
{
    public ulong Index { get; } = index;
}

/// <summary>The entries requested lie after the storage's last index.</summary>
public sealed class LogUnavailableException(ulong index) : Exception($"raft: index {index} is unavailable")
{
    public ulong Index { get; } = index;
}

/// <summary>A snapshot that is not newer than the one the storage already holds.</summary>
public sealed class SnapshotOutOfDateException(ulong index, ulong current)
    : Exception($"raft: snapshot at {index} is not newer than the current one at {current}");

/// <summary>The persisted state Raft reads: a snapshot followed by a contiguous run of entries.
/// Raft never writes through this interface; the caller writes what each Ready tells it to.
/// Errors: an index before the first available one throws <see cref="LogCompactedException"/>; an index after
/// the last throws <see cref="LogUnavailableException"/>. Raft catches both where they may legitimately occur.</summary>
public interface IRaftStorage
{
    /// <summary>The persisted hard state, and the membership as of the snapshot.</summary>
    (HardState HardState, ConfState ConfState) InitialState();

    /// <summary>Entries [low, high), at most <paramref name="maxSize"/> bytes of data but always at least one.</summary>
    IReadOnlyList<Entry> Entries(ulong low, ulong high, ulong maxSize);

    /// <summary>The term of the entry at index, for FirstIndex()-1 ≤ index ≤ LastIndex() (FirstIndex()-1 is the snapshot's).</summary>
    ulong Term(ulong index);

    /// <summary>The first index whose entry is available (snapshot index + 1).</summary>
    ulong FirstIndex();

    /// <summary>The last index in the log (the snapshot's index when there are no entries after it).</summary>
    ulong LastIndex();

    /// <summary>The latest snapshot.</summary>
    Snapshot Snapshot();
}

/// <summary>An in-memory <see cref="IRaftStorage"/>, also the write side for tests and simple callers.
/// Not thread-safe: use it from the one loop that drives the node.</summary>
public sealed class MemoryStorage : IRaftStorage
{
    private HardState hardState;
    private Snapshot snapshot = HttpKv.Raft.Snapshot.Empty;
    // entries[0] stands for the snapshot: its Index and Term are the snapshot's, its data unused.
    private List<Entry> entries = [new Entry(0, 0, EntryType.Normal, default)];

    /// <summary>Storage for a founding member of a new cluster: every founding member starts from the same
    /// snapshot at index 1, term 1 that lists all voters (and no data), and the hard state term 1, commit 1, so
    /// the first election is for term 2 (as in etcd, where the bootstrap entries are of term 1).</summary>
    public static MemoryStorage ForNewCluster(IEnumerable<ulong> voters)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, new ConfState([.. voters], [])), ReadOnlyMemory<byte>.Empty));
        storage.SetHardState(new HardState(1, 0, 1));
        return storage;
    }

    public HardState HardState => hardState;

    public (HardState HardState, ConfState ConfState) InitialState() => (hardState, snapshot.Metadata.ConfState);

    public void SetHardState(HardState state) => hardState = state;

    private ulong Offset => entries[0].Index;

    public ulong FirstIndex() => Offset + 1;

    public ulong LastIndex() => Offset + (ulong)entries.Count - 1;

    public Snapshot Snapshot() => snapshot;

    public ulong Term(ulong index)
    {
        if (index < Offset) throw new LogCompactedException(index);
        if (index > LastIndex()) throw new LogUnavailableException(index);
        return entries[(int)(index - Offset)].Term;
    }

    public IReadOnlyList<Entry> Entries(ulong low, ulong high, ulong maxSize)
    {
        if (low <= Offset) throw new LogCompactedException(low);
        if (high > LastIndex() + 1) throw new LogUnavailableException(high - 1);
        return RaftLog.LimitSize(entries.GetRange((int)(low - Offset), (int)(high - low)), maxSize);
    }

    /// <summary>Replaces everything with the snapshot (the entries after it are dropped).</summary>
    public void ApplySnapshot(Snapshot snap)
    {
        if (snap.Metadata.Index <= snapshot.Metadata.Index) throw new SnapshotOutOfDateException(snap.Metadata.Index, snapshot.Metadata.Index);
        snapshot = snap;
        entries = [new Entry(snap.Metadata.Term, snap.Metadata.Index, EntryType.Normal, default)];
    }

    /// <summary>Records a snapshot of the state machine as of <paramref name="index"/> (≤ applied); call
    /// <see cref="Compact"/> afterwards to drop the entries it covers.</summary>
    public Snapshot CreateSnapshot(ulong index, ConfState confState, ReadOnlyMemory<byte> data)
    {
        if (index <= snapshot.Metadata.Index) throw new SnapshotOutOfDateException(index, snapshot.Metadata.Index);
        if (index > LastIndex()) throw new LogUnavailableException(index);
        snapshot = new Snapshot(new SnapshotMetadata(index, Term(index), confState), data);
        return snapshot;
    }

    /// <summary>Drops the entries before <paramref name="index"/>; the entry at index becomes the new marker.</summary>
    public void Compact(ulong index)
    {
        if (index <= Offset) throw new LogCompactedException(index);
        if (index > LastIndex()) throw new LogUnavailableException(index);
        // In place: the list keeps its capacity, so the log does not grow a new array from scratch after every snapshot.
        var at = (int)(index - Offset);
        entries[at] = entries[at] with { Type = EntryType.Normal, Data = default };
        entries.RemoveRange(0, at);
    }

    /// <summary>Appends entries, replacing any conflicting suffix. Entries already compacted are skipped.</summary>
    public void Append(IReadOnlyList<Entry> newEntries)
    {
        if (newEntries.Count == 0) return;
        var first = FirstIndex();
        if (newEntries[^1].Index < first) return;
        var skip = first > newEntries[0].Index ? (int)(first - newEntries[0].Index) : 0;
        var start = newEntries[skip].Index;
        if (start > LastIndex() + 1) throw new InvalidOperationException($"raft: missing log entries: last {LastIndex()}, appending at {start}");
        var keep = (int)(start - Offset);
        if (keep < entries.Count) entries.RemoveRange(keep, entries.Count - keep);
        for (var i = skip; i < newEntries.Count; i++) entries.Add(newEntries[i]);
    }
}
