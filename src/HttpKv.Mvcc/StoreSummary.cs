namespace HttpKv.Mvcc;

/// <summary>What <c>snapshot status</c> reports of a backend, with etcd's meanings: a hash of every bucket's name
/// and entries, the revision, and the number of entries in all buckets (etcd's "total keys" counts every stored
/// revision and every meta entry, not the live keys).</summary>
public sealed record StoreSummary(uint Hash, long Revision, long TotalKeys);

public static class StoreSummaries
{
    /// <summary>Reads every entry of the store's buckets (see <see cref="MvccStore.HashBuckets"/>): nothing left out of
    /// the hash, as etcd's snapshot status.</summary>
    public static StoreSummary Summarize(this MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var (hash, total) = store.HashBuckets(skipConsistentIndex: false);
        return new StoreSummary(hash, store.CurrentRevision, total);
    }
}
