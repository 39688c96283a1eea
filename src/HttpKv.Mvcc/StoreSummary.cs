using HttpKv.Storage.Wal;

namespace HttpKv.Mvcc;

/// <summary>What <c>snapshot status</c> reports of a backend, with etcd's meanings: a hash of every bucket's name
/// and entries, the revision, and the number of entries in all buckets (etcd's "total keys" counts every stored
/// revision and every meta entry, not the live keys).</summary>
public sealed record StoreSummary(uint Hash, long Revision, long TotalKeys);

public static class StoreSummaries
{
    /// <summary>Reads every entry of the store's buckets in one read transaction (each entry's checksum checked on the
    /// way, and each bucket's entry count against LMDB's): CRC-32C (Castagnoli, as etcd's) over each bucket's name
    /// followed by its keys and values, buckets in name order as bbolt iterates them.</summary>
    public static StoreSummary Summarize(this MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var read = store.Backend.BeginRead();
        uint hash = 0;
        long total = 0;
        foreach (var bucket in store.Backend.BucketNames.Order(StringComparer.Ordinal).Select(store.Backend.Bucket))
        {
            hash = Crc32C.Append(hash, System.Text.Encoding.UTF8.GetBytes(bucket.Name));
            long entries = 0;
            read.Scan(bucket, default, (key, value) =>
            {
                hash = Crc32C.Append(Crc32C.Append(hash, key), value);
                entries++;
                return true;
            });
            read.CheckEntryCount(bucket, entries);
            total += entries;
        }
        return new StoreSummary(hash, store.CurrentRevision, total);
    }
}
