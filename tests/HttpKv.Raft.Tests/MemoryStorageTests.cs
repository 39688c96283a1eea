using HttpKv.Raft;

namespace HttpKv.Raft.Tests;

public class MemoryStorageTests
{
    private static Entry E(ulong term, ulong index) => new(term, index, EntryType.Normal, new byte[] { (byte)index });

    private static MemoryStorage WithEntries(params (ulong Term, ulong Index)[] entries)
    {
        var storage = MemoryStorage.ForNewCluster([1]);
        storage.Append([.. entries.Select(e => E(e.Term, e.Index))]);
        return storage;
    }

    [Fact]
    public void NewCluster_StartsFromTheBootstrapSnapshot()
    {
        var storage = MemoryStorage.ForNewCluster([1, 2, 3]);
        Assert.Equal((2UL, 1UL, 1UL), (storage.FirstIndex(), storage.LastIndex(), storage.Term(1)));
        Assert.Equal(new HardState(1, 0, 1), storage.InitialState().HardState);
        Assert.Equal([1UL, 2UL, 3UL], storage.InitialState().ConfState.Voters);
    }

    [Fact]
    public void Append_ReplacesAConflictingSuffixAndRejectsAGap()
    {
        var storage = WithEntries((1, 2), (1, 3), (1, 4));
        storage.Append([E(2, 3)]);
        Assert.Equal((3UL, 2UL), (storage.LastIndex(), storage.Term(3)));
        Assert.Throws<InvalidOperationException>(() => storage.Append([E(2, 9)]));
    }

    [Fact]
    public void Entries_AndTerm_ReportCompactedAndUnavailableIndexes()
    {
        var storage = WithEntries((1, 2), (1, 3), (2, 4), (2, 5));
        storage.CreateSnapshot(3, new ConfState([1], []), new byte[] { 9 });
        storage.Compact(3);
        Assert.Equal((4UL, 5UL, 1UL), (storage.FirstIndex(), storage.LastIndex(), storage.Term(3)));
        Assert.Throws<LogCompactedException>(() => storage.Term(2));
        Assert.Throws<LogCompactedException>(() => storage.Entries(3, 5, ulong.MaxValue));
        Assert.Throws<LogUnavailableException>(() => storage.Term(6));
        Assert.Equal([4UL, 5UL], storage.Entries(4, 6, ulong.MaxValue).Select(e => e.Index));
        Assert.Equal([4UL], storage.Entries(4, 6, 0).Select(e => e.Index)); // always at least one entry
        Assert.Throws<SnapshotOutOfDateException>(() => storage.CreateSnapshot(3, new ConfState([1], []), default));
    }

    [Fact]
    public void ApplySnapshot_ReplacesTheLog()
    {
        var storage = WithEntries((1, 2), (1, 3));
        storage.ApplySnapshot(new Snapshot(new SnapshotMetadata(10, 3, new ConfState([1, 2], [3])), default));
        Assert.Equal((11UL, 10UL, 3UL), (storage.FirstIndex(), storage.LastIndex(), storage.Term(10)));
        Assert.Equal([3UL], storage.InitialState().ConfState.Learners);
        Assert.Throws<SnapshotOutOfDateException>(() =>
            storage.ApplySnapshot(new Snapshot(new SnapshotMetadata(10, 3, ConfState.Empty), default)));
    }
}
