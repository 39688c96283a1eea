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
    private static readonly KeyIndex Infinity = KeyIndex.Probe(ReadOnlyMemory<byte>.Empty);
    private readonly SortedSet<KeyIndex> keys = new(new KeyOrder());

    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.NoRecursion);

    public int Count => keys.Count;

    // One probe per thread for point lookups (every put and single-key read makes one): a lookup runs to its end on
    // its thread, and the probe lets go of the caller's key afterwards.
    [ThreadStatic] private static KeyIndex? lookupProbe;

    public KeyIndex? Find(ReadOnlyMemory<byte> key)
    {
        var probe = lookupProbe ??= KeyIndex.Probe(ReadOnlyMemory<byte>.Empty);
        probe.Reprobe(key);
        try
        {
            return keys.TryGetValue(probe, out var found) ? found : null;
        }
        finally
        {
            probe.Reprobe(ReadOnlyMemory<byte>.Empty);
        }
    }

    /// <summary>Finds or adds the key (copying it); caller holds the write lock.</summary>
    public KeyIndex GetOrAdd(ReadOnlyMemory<byte> key)
    {
        if (Find(key) is { } found) return found;
        var added = new KeyIndex(key.ToArray());
        keys.Add(added);
        return added;
    }

    public void Remove(KeyIndex keyIndex) => keys.Remove(keyIndex);

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
        var lower = KeyIndex.Probe(key);
        var upper = toEnd ? Infinity : KeyIndex.Probe(end);
        foreach (var keyIndex in keys.GetViewBetween(lower, upper))
        {
            if (ReferenceEquals(keyIndex, upper) || (!toEnd && keyIndex.Key.Span.SequenceCompareTo(end.Span) >= 0)) yield break;
            yield return keyIndex;
        }
    }

    public IEnumerable<KeyIndex> All() => keys;

    private sealed class KeyOrder : IComparer<KeyIndex>
    {
        public int Compare(KeyIndex? x, KeyIndex? y)
        {
            if (ReferenceEquals(x, y)) return 0;
            if (ReferenceEquals(x, Infinity)) return 1;
            if (ReferenceEquals(y, Infinity)) return -1;
            return x!.Key.Span.SequenceCompareTo(y!.Key.Span);
        }
    }
}
