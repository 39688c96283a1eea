namespace HttpKv.Storage.Wal;

/// <summary>A snapshot marker: the log continues after <see cref="Index"/> (of <see cref="Term"/>); every entry at or
/// before it is held by the snapshot and dropped from the log at replay.</summary>
public readonly record struct WalSnapshot(ulong Index, ulong Term);

/// <summary>Limits of a <see cref="WriteAheadLog"/>.</summary>
public sealed record WalOptions
{
    /// <summary>A segment that has grown past this size is closed and a new one started.</summary>
    public long SegmentSizeBytes { get; init; } = 64L << 20;

    /// <summary>
    /// The most encoded bytes accepted by <see cref="WriteAheadLog.AppendAsync"/> but not yet written and synced.
    /// Beyond it callers wait (back-pressure). One append larger than this is admitted alone.
    /// </summary>
    public int MaxPendingBytes { get; init; } = 64 << 20;

    /// <summary>
    /// How far ahead of the write position the segment is kept zero-filled and synced (0: not at all), so that an
    /// append's fdatasync carries no change of the file's size. etcd preallocates a whole segment with fallocate;
    /// this zero-fills in steps instead, because on ext4 and XFS a write into fallocated (unwritten) blocks still
    /// changes the block map that the sync must write.
    /// </summary>
    public long PreallocationBytes { get; init; } = 1 << 20;
}

/// <summary>A WAL record that is damaged but followed by valid data: start-up must stop.</summary>
public sealed class WalCorruptionException : Exception
{
    public WalCorruptionException(string filePath, long offset, string reason)
        : base($"WAL corrupt in file '{filePath}' at offset {offset}: {reason}")
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>The segment file that holds the damaged record.</summary>
    public string FilePath { get; }

    /// <summary>The byte offset of the damaged record in <see cref="FilePath"/>.</summary>
    public long Offset { get; }
}
