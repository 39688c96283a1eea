namespace HttpKv.Mvcc.Tests;

/// <summary>The key index as it was first written (a list of generation objects, each with a list of revisions),
/// kept as the model <see cref="KeyIndex"/>'s compact layout is checked against.</summary>
internal sealed class ReferenceKeyIndex
{
    private readonly List<Generation> generations;

    public ReferenceKeyIndex(ReadOnlyMemory<byte> key)
    {
        Key = key;
        generations = [new()];
    }

    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>True when the index holds no revision at all (only an empty live generation).</summary>
    public bool IsEmpty => generations.Count == 1 && generations[0].Revisions.Count == 0;

    private Generation Live => generations[^1];

    /// <summary>Records a put at <paramref name="revision"/>; <paramref name="createdMain"/> and
    /// <paramref name="version"/> are the stored KeyValue's create_revision and version.</summary>
    public void Put(Revision revision, long createdMain, long version)
    {
        var live = Live;
        if (live.Revisions.Count > 0 && live.Revisions[^1] >= revision)
        {
            throw new InvalidOperationException($"put at {revision} is not after {live.Revisions[^1]}");
        }
        if (live.Revisions.Count == 0) live.Created = createdMain;
        live.Revisions.Add(revision);
        live.Version = version;
    }

    /// <summary>Ends the live generation with a tombstone; false if the key is already deleted.</summary>
    public bool Tombstone(Revision revision)
    {
        var live = Live;
        if (live.Revisions.Count == 0) return false;
        live.Revisions.Add(revision);
        live.Version++;
        generations.Add(new Generation());
        return true;
    }

    /// <summary>The key's newest revision at or below <paramref name="atMain"/>, if it was alive then.</summary>
    public bool TryGet(long atMain, out Revision modified, out long createdMain, out long version)
    {
        for (var index = generations.Count - 1; index >= 0; index--)
        {
            var generation = generations[index];
            var revisions = generation.Revisions;
            if (revisions.Count == 0) continue;
            if (index != generations.Count - 1 && revisions[^1].Main <= atMain) break; // deleted by then
            if (revisions[0].Main > atMain) continue;
            var position = revisions.Count - 1;
            while (revisions[position].Main > atMain) position--;
            modified = revisions[position];
            createdMain = generation.Created;
            version = generation.Version - (revisions.Count - 1 - position);
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
        for (var index = 0; index < generations.Count; index++)
        {
            var revisions = generations[index].Revisions;
            var ended = index != generations.Count - 1;
            for (var position = 0; position < revisions.Count; position++)
                yield return (revisions[position], ended && position == revisions.Count - 1);
        }
    }

    /// <summary>Adds to <paramref name="keep"/> the revision a compaction at <paramref name="atMain"/> keeps
    /// (the newest ≤ atMain, if it is not a tombstone). Changes nothing.</summary>
    public void CollectKept(long atMain, HashSet<Revision> keep)
    {
        var (generationIndex, position) = Locate(atMain);
        if (position >= 0) keep.Add(generations[generationIndex].Revisions[position]);
    }

    /// <summary>Drops the revisions a compaction at <paramref name="atMain"/> removes; true if the key is now empty.</summary>
    public bool Compact(long atMain)
    {
        var (generationIndex, position) = Locate(atMain);
        generations.RemoveRange(0, generationIndex);
        if (position > 0) generations[0].Revisions.RemoveRange(0, position);
        return IsEmpty;
    }

    /// <summary>Forgets every revision with main above <paramref name="main"/> (an abandoned apply batch);
    /// true if the key is now empty.</summary>
    public bool RollbackAfter(long main)
    {
        while (true)
        {
            var live = Live;
            while (live.Revisions.Count > 0 && live.Revisions[^1].Main > main)
            {
                live.Revisions.RemoveAt(live.Revisions.Count - 1);
                live.Version--;
            }
            if (live.Revisions.Count > 0 || generations.Count == 1) break;
            if (generations[^2].Revisions[^1].Main <= main) break; // a committed delete: stays deleted
            generations.RemoveAt(generations.Count - 1); // reopen the previous generation; its tombstone goes next
        }
        if (Live.Revisions.Count == 0) Live.Version = 0;
        return IsEmpty;
    }

    /// <summary>The generation a compaction at <paramref name="atMain"/> starts from, and the position in it of
    /// the newest revision ≤ atMain (-1 if none).</summary>
    private (int GenerationIndex, int Position) Locate(long atMain)
    {
        var generationIndex = 0;
        while (generationIndex < generations.Count - 1 && generations[generationIndex].Revisions[^1].Main <= atMain)
        {
            generationIndex++; // this whole generation, tombstone included, is at or below atMain
        }
        var revisions = generations[generationIndex].Revisions;
        var position = revisions.Count - 1;
        while (position >= 0 && revisions[position].Main > atMain) position--;
        return (generationIndex, position);
    }

    private sealed class Generation
    {
        public long Created;
        public long Version;
        public readonly List<Revision> Revisions = [];
    }
}
