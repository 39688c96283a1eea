using HttpKv.Storage.Wal;

namespace HttpKv.Storage.Backend;

/// <summary>The online defragmentation of <see cref="LmdbBackend"/>: a compacted copy made beside the file while
/// readers and the writer go on, the writes of meanwhile replayed onto it, then an atomic rename.</summary>
public sealed partial class LmdbBackend
{
    /// <summary>
    /// Rewrites the file without its free pages, as etcd's defragment does, but without stopping readers or the writer
    /// for the copy: a compacted copy is made from one read transaction while commits go on and are recorded; the
    /// recorded changes are replayed onto the copy in rounds; then the writer waits while the last few are replayed
    /// and the copy is synced and renamed over the file. Readers that began before keep the old file open until they
    /// end. Returns the sizes and the time the writer waited. Throws <see cref="InvalidOperationException"/> when
    /// another defragmentation is running or more than <see cref="DefragmentLimits.MaxJournalBytes"/> of writes came
    /// in while the copy was made (the copy is then dropped and the file left as it was).
    /// </summary>
    public DefragmentResult Defragment(DefragmentLimits? limits = null, Action<string>? progress = null)
    {
        limits ??= new DefragmentLimits();
        if (!defragmenting.Wait(0)) throw new InvalidOperationException("a defragmentation of this backend is already running");
        var copyPath = path + DefragmentSuffix;
        Generation? copy = null;
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var sizeBefore = Size;
            DeleteUnfinishedDefragment(path);
            // Recording starts while no write is in flight, so every commit is either in the copy or in the journal
            // (or both: replaying a change the copy already has is harmless, as each entry is a whole put or delete).
            writeGate.Wait();
            lock (journalLock) journal = new DefragmentJournal(limits.MaxJournalBytes);
            writeGate.Release();
            CopyTo(copyPath);
            progress?.Invoke($"copied {new FileInfo(copyPath).Length} bytes");
            copy = Generation.Open(copyPath, path, options, checkFormat: false, existed: true);
            long replayed = 0;
            for (var round = 0; round < limits.MaxCatchUpRounds; round++)
            {
                var changes = TakeJournal(keepRecording: true);
                if (changes.Count == 0) break;
                replayed += copy.Replay(changes);
                if (changes.Count < limits.FinalRoundEntries) break;
            }
            copy.Environment.Flush(force: true);

            writeGate.Wait();
            var paused = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this); // closed meanwhile: drop the copy
                var last = TakeJournal(keepRecording: false);
                replayed += copy.Replay(last);
                copy.Environment.Flush(force: true);
                Failpoints.Hit("defragBeforeRename");
                File.Move(copyPath, path, overwrite: true);
                FileSync.SyncDirectory(System.IO.Path.GetDirectoryName(path)!);
                Failpoints.Hit("defragAfterRename");
                var previous = Interlocked.Exchange(ref current, copy);
                copy = null;
                previous.Release(); // closed when its last reader ends
            }
            finally
            {
                writeGate.Release();
            }
            var pause = System.Diagnostics.Stopwatch.GetElapsedTime(paused);
            return new DefragmentResult(sizeBefore, Size, replayed, System.Diagnostics.Stopwatch.GetElapsedTime(started), pause);
        }
        finally
        {
            if (copy is not null)
            {
                lock (journalLock) journal = null;
                copy.Release();
                DeleteUnfinishedDefragment(path);
            }
            defragmenting.Release();
        }
    }

    private List<JournalEntry> TakeJournal(bool keepRecording)
    {
        lock (journalLock)
        {
            var taken = journal ?? throw new InvalidOperationException("no defragmentation is recording");
            if (taken.Overflowed)
                throw new InvalidOperationException($"defragmentation aborted: more than {taken.LimitBytes} bytes were written while the copy was made");
            journal = keepRecording ? new DefragmentJournal(taken.LimitBytes) : null;
            return taken.Entries;
        }
    }

    /// <summary>A defragmentation interrupted by a crash leaves its copy; the file itself is whole (the copy replaces it
    /// only by an atomic rename), so the copy is of no use.</summary>
    private static void DeleteUnfinishedDefragment(string fullPath)
    {
        File.Delete(fullPath + DefragmentSuffix);
        File.Delete(fullPath + DefragmentSuffix + "-lock");
    }
}

/// <summary>One change recorded for a running defragmentation: a put of <see cref="Value"/>, or a delete when it is null.</summary>
internal readonly record struct JournalEntry(int Bucket, byte[] Key, byte[]? Value);

/// <summary>The changes committed since a defragmentation began its copy, bounded in bytes.</summary>
internal sealed class DefragmentJournal(long limitBytes)
{
    private long bytes;

    public List<JournalEntry> Entries { get; } = [];
    public long LimitBytes => limitBytes;
    public bool Overflowed { get; private set; }

    public void Add(List<JournalEntry> committed)
    {
        if (Overflowed) return;
        foreach (var entry in committed) bytes += entry.Key.Length + (entry.Value?.Length ?? 0) + 32;
        if (bytes > limitBytes)
        {
            Overflowed = true;
            Entries.Clear(); // the defragmentation will abort; keep no memory for it
            return;
        }
        Entries.AddRange(committed);
    }
}

/// <summary>Bounds of a defragmentation.</summary>
public sealed record DefragmentLimits
{
    /// <summary>Writes recorded while the copy is made, at most; past it the defragmentation gives up.</summary>
    public long MaxJournalBytes { get; init; } = 512L << 20;
    /// <summary>Catch-up rounds before the writer is paused for the last one.</summary>
    public int MaxCatchUpRounds { get; init; } = 8;
    /// <summary>A round that replayed fewer changes than this is followed by the last (paused) round.</summary>
    public int FinalRoundEntries { get; init; } = 2048;
}

/// <summary>What a defragmentation did: file size before and after, changes replayed onto the copy, the whole time,
/// and how long the writer waited (the only pause a client can see).</summary>
public sealed record DefragmentResult(long SizeBefore, long SizeAfter, long Replayed, TimeSpan Elapsed, TimeSpan WriterPause);
