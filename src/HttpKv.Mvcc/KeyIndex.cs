namespace HttpKv.Mvcc;

/// <summary>
/// The history of one key: which revisions of it exist, grouped into generations.
/// </summary>
/// <remarks>
/// Model (the same as etcd's keyIndex):
/// <code>
///   KeyIndex   = key, generations: [Generation, …]          (never empty; the last one is the live one)
///   Generation = created: main revision of the put that began it,
///                version: the key's version at the generation's last revision,
///                revisions: [Revision, …] ascending
/// </code>
/// A generation is one life of the key, from the put that creates it to the delete that ends it.
/// A delete appends its tombstone revision to the live generation and then opens a new, empty one,
/// so every generation but the last ends with a tombstone and an empty last generation means
/// "deleted now". Example: put@2, put@3, delete@4, put@5 gives
/// <c>[{created 2, version 3, [2.0, 3.0, 4.0(tombstone)]}, {created 5, version 1, [5.0]}]</c>.
/// Versions count from 1 within a generation; the version of revisions[i] is
/// <c>version - (revisions.Count - 1 - i)</c>, which stays right after compaction drops older revisions.
/// Compaction at revision C keeps, per key, the newest revision ≤ C unless it is a tombstone, and all
/// revisions above C; a key left with one empty generation disappears from the index.
///
/// Layout: every generation's revisions in one array, oldest first; the live generation's created revision and
/// version in fields, and the ended generations (rare: a key deleted and put again within the history kept) as
/// small structs giving where each ends in the array. A key put once costs this object and a one-revision array
/// (~110 bytes), and a put touches the object and the array only, where a list of generation objects each with a
/// list of revisions took six dependent loads, each a cache miss under a random load. With the key's bytes and its
/// place in <see cref="SortedKeys"/>: 217 managed bytes per 32-byte key, against 352 before (the benchmarks'
/// <c>index-memory</c>, docs/PERFORMANCE.md).
/// Not thread-safe: <see cref="TreeIndex"/> guards every instance with its lock.
/// </remarks>
internal sealed class KeyIndex
{
    private Revision[] revisions = [];
    private int count;
    /// <summary>The ended generations, oldest first; <see cref="ended"/>[g].End is where generation g's revisions
    /// end in <see cref="revisions"/> (exclusive; its tombstone is the one before).</summary>
    private EndedGeneration[] ended = [];
    private int endedCount;
    private long liveCreated;
    private long liveVersion;

    public KeyIndex(ReadOnlyMemory<byte> key) => Key = key;

    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>True when the index holds no revision at all (only an empty live generation).</summary>
    public bool IsEmpty => count == 0;

    private int LiveStart => endedCount == 0 ? 0 : ended[endedCount - 1].End;

    /// <summary>Records a put at <paramref name="revision"/>; <paramref name="createdMain"/> and
    /// <paramref name="version"/> are the stored KeyValue's create_revision and version.</summary>
    public void Put(Revision revision, long createdMain, long version)
    {
        var liveEmpty = count == LiveStart;
        if (!liveEmpty && revisions[count - 1] >= revision)
        {
            throw new InvalidOperationException($"put at {revision} is not after {revisions[count - 1]}");
        }
        if (liveEmpty) liveCreated = createdMain;
        Append(revision);
        liveVersion = version;
    }

    /// <summary>Ends the live generation with a tombstone; false if the key is already deleted.</summary>
    public bool Tombstone(Revision revision)
    {
        if (count == LiveStart) return false;
        Append(revision);
        if (endedCount == ended.Length) Array.Resize(ref ended, Math.Max(2, ended.Length * 2));
        ended[endedCount++] = new EndedGeneration(count, liveCreated, liveVersion + 1);
        liveCreated = 0;
        liveVersion = 0;
        return true;
    }

    /// <summary>The key's newest revision at or below <paramref name="atMain"/>, if it was alive then.</summary>
    public bool TryGet(long atMain, out Revision modified, out long createdMain, out long version)
    {
        for (var generation = endedCount; generation >= 0; generation--)
        {
            var (start, end) = Bounds(generation);
            if (start == end) continue;
            if (generation != endedCount && revisions[end - 1].Main <= atMain) break; // deleted by then
            if (revisions[start].Main > atMain) continue;
            var position = end - 1;
            while (revisions[position].Main > atMain) position--;
            modified = revisions[position];
            var (created, lastVersion) = generation == endedCount ? (liveCreated, liveVersion) : (ended[generation].Created, ended[generation].Version);
            createdMain = created;
            version = lastVersion - (end - 1 - position);
            return true;
        }
        modified = default;
        createdMain = 0;
        version = 0;
        return false;
    }

    /// <summary>Every revision the index still holds for the key, oldest first; the last revision of each ended
    /// generation is its tombstone (the delete).</summary>
    public IEnumerable<(Revision Revision, bool Tombstone)> History()
    {
        var generation = 0;
        for (var position = 0; position < count; position++)
        {
            while (generation < endedCount && ended[generation].End <= position) generation++;
            yield return (revisions[position], generation < endedCount && position == ended[generation].End - 1);
        }
    }

    /// <summary>Adds to <paramref name="keep"/> the revision a compaction at <paramref name="atMain"/> keeps
    /// (the newest ≤ atMain, if it is not a tombstone). Changes nothing.</summary>
    public void CollectKept(long atMain, HashSet<Revision> keep)
    {
        var (_, position) = Locate(atMain);
        if (position >= 0) keep.Add(revisions[position]);
    }

    /// <summary>Drops the revisions a compaction at <paramref name="atMain"/> removes; true if the key is now empty.</summary>
    public bool Compact(long atMain)
    {
        var (generation, position) = Locate(atMain);
        var drop = position >= 0 ? position : Bounds(generation).Start; // everything before the kept revision
        if (drop == 0) return IsEmpty;
        Array.Copy(revisions, drop, revisions, 0, count - drop);
        Array.Clear(revisions, count - drop, drop);
        count -= drop;
        Array.Copy(ended, generation, ended, 0, endedCount - generation);
        endedCount -= generation;
        for (var g = 0; g < endedCount; g++) ended[g] = ended[g] with { End = ended[g].End - drop };
        if (revisions.Length > 4 && count <= revisions.Length / 4) Array.Resize(ref revisions, Math.Max(count, 1) * 2);
        return IsEmpty;
    }

    /// <summary>Forgets every revision with main above <paramref name="main"/> (an abandoned apply batch);
    /// true if the key is now empty.</summary>
    public bool RollbackAfter(long main)
    {
        while (true)
        {
            var liveStart = LiveStart;
            while (count > liveStart && revisions[count - 1].Main > main)
            {
                revisions[--count] = default;
                liveVersion--;
            }
            if (count > liveStart || endedCount == 0) break;
            if (revisions[count - 1].Main <= main) break; // a committed delete: stays deleted
            // reopen the previous generation; its tombstone goes next
            var reopened = ended[--endedCount];
            liveCreated = reopened.Created;
            liveVersion = reopened.Version;
        }
        if (count == LiveStart) liveVersion = 0;
        return IsEmpty;
    }

    /// <summary>Where generation <paramref name="generation"/>'s revisions lie in <see cref="revisions"/>.</summary>
    private (int Start, int End) Bounds(int generation) =>
        (generation == 0 ? 0 : ended[generation - 1].End, generation == endedCount ? count : ended[generation].End);

    /// <summary>The generation a compaction at <paramref name="atMain"/> starts from, and the position (in
    /// <see cref="revisions"/>) of its newest revision ≤ atMain (-1 if none).</summary>
    private (int Generation, int Position) Locate(long atMain)
    {
        var generation = 0;
        while (generation < endedCount && revisions[ended[generation].End - 1].Main <= atMain)
        {
            generation++; // this whole generation, tombstone included, is at or below atMain
        }
        var (start, end) = Bounds(generation);
        var position = end - 1;
        while (position >= start && revisions[position].Main > atMain) position--;
        return (generation, position >= start ? position : -1);
    }

    private void Append(Revision revision)
    {
        if (count == revisions.Length) Array.Resize(ref revisions, Math.Max(1, revisions.Length * 2));
        revisions[count++] = revision;
    }

    /// <summary>An ended generation: where its revisions end, its created revision and its last version.</summary>
    private readonly record struct EndedGeneration(int End, long Created, long Version);
}
