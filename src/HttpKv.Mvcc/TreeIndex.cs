namespace HttpKv.Mvcc;

/// <summary>
/// The in-memory key index: every key's <see cref="KeyIndex"/>, ordered bytewise for range scans.
/// </summary>
/// <remarks>
/// Range semantics (etcd's): an empty <c>end</c> means the single key <c>key</c>; <c>end</c> = one zero byte
/// means every key ≥ <c>key</c>; otherwise the half-open interval [key, end).
/// Locking: the apply batch mutates under <see cref="Lock"/>'s write lock; readers scan under its read lock.
/// Revisions above the published revision may be present (an apply batch in progress): readers never ask
/// for them, so they are invisible until the batch commits and publishes its revision.
/// </remarks>
internal sealed class TreeIndex
{
    private readonly SortedKeys keys = new();

    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.NoRecursion);

    public int Count => keys.Count;

    public KeyIndex? Find(ReadOnlyMemory<byte> key) => keys.Find(key.Span);

    /// <summary>Finds or adds the key (copying it); caller holds the write lock.</summary>
    public KeyIndex GetOrAdd(ReadOnlyMemory<byte> key) => keys.GetOrAdd(key.Span);

    public void Remove(KeyIndex keyIndex) => keys.Remove(keyIndex.Key.Span);

    /// <summary>The keys in the range, ascending; caller holds a lock.</summary>
    public IEnumerable<KeyIndex> Scan(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> end)
    {
        if (end.IsEmpty)
        {
            var single = Find(key);
            if (single is not null) yield return single;
            yield break;
        }
        var toEnd = end.Length == 1 && end.Span[0] == 0;
        if (!toEnd && key.Span.SequenceCompareTo(end.Span) >= 0) yield break;
        foreach (var keyIndex in keys.From(key))
        {
            if (!toEnd && keyIndex.Key.Span.SequenceCompareTo(end.Span) >= 0) yield break;
            yield return keyIndex;
        }
    }

    public IEnumerable<KeyIndex> All() => keys.All();
}
