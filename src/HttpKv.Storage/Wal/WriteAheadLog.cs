using System.Buffers;
using Microsoft.Extensions.Logging;
using HttpKv.Raft;

namespace HttpKv.Storage.Wal;

/// <summary>
/// The Raft write-ahead log: entries and hard states appended in segment files, each batch made durable by
/// one fdatasync (group commit).
/// </summary>
/// <remarks>The files, the record layout, how start-up tells a torn tail from corruption, and the writer's rules
/// (group commit, back-pressure, what a failed fsync does) are described once, in docs/wal.md; the encoding itself is
/// <see cref="WalRecordFormat"/>.</remarks>
public sealed class WriteAheadLog : IDisposable
{
    /// <summary>The largest encoded size of one append (the batch buffer is one array).</summary>
    public const int MaxAppendBytes = 1 << 30;

    /// <summary>The lock file that keeps a second log out of the directory.</summary>
    public const string LockFileName = "wal.lock";

    private readonly object _gate = new();
    private readonly string _directory;
    private readonly WalOptions _options;
    private readonly ILogger _logger;
    private readonly Queue<PendingAppend> _waitingForSpace = new();
    private readonly Thread _writer;
    private IReadOnlyList<Entry> _entriesAtOpen;
    private readonly FileStream _directoryLock;

    // Guarded by _gate.
    private List<PendingAppend> _queue = new();
    private List<PendingAppend> _spareQueue = new();
    private long _pendingBytes;
    private bool _disposed;
    private Exception? _failure;
    private HardState _hardState;
    private ulong _lastIndex;

    // Owned by the writer thread (and by Open/Dispose when it is not running).
    private FileStream _segment;
    private bool _segmentUnsynced;
    private WalSegmentName _segmentName;
    private long _segmentBytes;
    /// <summary>Where the segment's zero-filled, synced preallocation ends (never below <see cref="_segmentBytes"/>
    /// once a batch is written): records written below it change no file metadata (see <see cref="TryPreallocate"/>).</summary>
    private long _preallocatedEnd;
    private ulong _writtenLastIndex;
    private HardState _writtenHardState;
    private long _fsyncCount;

    private WriteAheadLog(string directory, FileStream directoryLock, WalOptions options, ILogger logger, WalReplay replay,
        FileStream segment, WalSegmentName segmentName, long segmentBytes)
    {
        _directory = directory;
        _directoryLock = directoryLock;
        _options = options;
        _logger = logger;
        _entriesAtOpen = replay.Entries.AsReadOnly();
        _hardState = _writtenHardState = replay.HardState;
        Snapshot = replay.Snapshot;
        CreatedAtOpen = replay.SegmentCount == 0;
        _lastIndex = _writtenLastIndex = replay.Entries.Count > 0 ? replay.Entries[^1].Index : replay.Snapshot?.Index ?? 0;
        _segment = segment;
        _segmentName = segmentName;
        _segmentBytes = _preallocatedEnd = segmentBytes;
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "wal-writer" };
        _writer.Start();
    }

    /// <summary>The last hard state made durable.</summary>
    public HardState HardState
    {
        get { lock (_gate) { return _hardState; } }
    }

    /// <summary>
    /// The entries found at <see cref="Open"/>, in index order (appends after Open are not added). Their data are
    /// slices of the segment bytes read at Open, which stay in memory while any entry is referenced.
    /// </summary>
    public IReadOnlyList<Entry> Entries => _entriesAtOpen;

    /// <summary>Drops <see cref="Entries"/> (and with them the segment bytes read at Open, unless the caller kept
    /// entries of its own): once the caller has rebuilt its state from them they are only memory — a whole log
    /// since the last snapshot, tens of megabytes.</summary>
    public void ForgetEntriesAtOpen() => _entriesAtOpen = [];

    /// <summary>The last snapshot marker found at <see cref="Open"/>, if any: <see cref="Entries"/> continue after it.</summary>
    public WalSnapshot? Snapshot { get; }

    /// <summary>True when <see cref="Open"/> found no segment and created the first one: a new log (or one whose files
    /// were deleted).</summary>
    public bool CreatedAtOpen { get; }

    /// <summary>The index of the last entry made durable (0 when there is none).</summary>
    public ulong LastIndex
    {
        get { lock (_gate) { return _lastIndex; } }
    }

    /// <summary>How many data syncs the writer has made (one per written batch).</summary>
    public long FsyncCount => Interlocked.Read(ref _fsyncCount);

    /// <summary>Encoded bytes accepted but not yet written and synced (for tests and metrics).</summary>
    internal long PendingBytes
    {
        get { lock (_gate) { return _pendingBytes; } }
    }

    /// <summary>Failpoint: runs on the writer thread after a batch is taken and before it is written.</summary>
    internal Action? BeforeBatchWrite { get; set; }

    /// <summary>
    /// Opens (creating when missing) the WAL in <paramref name="directory"/>, replaying every segment and cutting off
    /// a torn last record. Throws <see cref="WalCorruptionException"/> for a damaged record followed by valid data.
    /// </summary>
    public static WriteAheadLog Open(string directory, WalOptions options, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentSizeBytes, 1L, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SegmentSizeBytes, (long)MaxAppendBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxPendingBytes, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.PreallocationBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.PreallocationBytes, (long)MaxAppendBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxPendingBytes, MaxAppendBytes, nameof(options));

        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        FileStream directoryLock = LockDirectory(directory);
        try
        {
            WalReplay replay = WalReader.ReadAll(directory, logger);
            ulong lastIndex = replay.Entries.Count > 0 ? replay.Entries[^1].Index : replay.Snapshot?.Index ?? 0;
            FileStream segment;
            WalSegmentName name;
            long segmentBytes;
            if (replay.LastSegment is { } last)
            {
                name = last;
                segmentBytes = replay.LastSegmentValidBytes;
                segment = OpenForAppend(Path.Combine(directory, last.FileName), segmentBytes);
            }
            else
            {
                name = new WalSegmentName(0, lastIndex + 1);
                segment = CreateSegment(directory, name, replay.HardState, logger, out segmentBytes);
            }
            WalLog.Opened(logger, directory, Math.Max(replay.SegmentCount, 1), replay.Entries.Count, lastIndex);
            return new WriteAheadLog(directory, directoryLock, options, logger, replay, segment, name, segmentBytes);
        }
        catch
        {
            directoryLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Deletes the segment files whose entries all have an index below <paramref name="index"/>: the caller has made
    /// those entries durable elsewhere (the backend synced at or past <c>index - 1</c>). The segment being written is
    /// never deleted, and every remaining segment starts with a copy of the hard state, so a reopen finds the same
    /// state with the entries from the first kept segment on. Returns how many files were deleted.
    /// </summary>
    public int ReleaseBefore(ulong index)
    {
        ulong currentSequence;
        lock (_gate)
        {
            currentSequence = _segmentName.Sequence;
        }
        var segments = Directory.EnumerateFiles(_directory)
            .Select(path => WalSegmentName.TryParse(Path.GetFileName(path), out var name) ? name : (WalSegmentName?)null)
            .OfType<WalSegmentName>()
            .Where(name => name.Sequence <= currentSequence)
            .OrderBy(name => name.Sequence)
            .ToList();
        var released = 0;
        for (var i = 0; i + 1 < segments.Count && segments[i + 1].FirstIndex <= index; i++)
        {
            File.Delete(Path.Combine(_directory, segments[i].FileName));
            WalLog.SegmentReleased(_logger, segments[i].FileName, index);
            released++;
        }
        if (released > 0) FileSync.SyncDirectory(_directory);
        return released;
    }

    /// <summary>
    /// Takes the directory's lock file (<c>wal.lock</c>, an exclusive flock on Unix) so that two logs — in this
    /// process or another — never write the same directory.
    /// </summary>
    private static FileStream LockDirectory(string directory)
    {
        string path = Path.Combine(directory, LockFileName);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException exception)
        {
            throw new IOException($"The WAL directory '{directory}' is in use by another WriteAheadLog ({path} is locked).", exception);
        }
    }

    /// <summary>
    /// Appends <paramref name="entries"/> (contiguous ascending indices) and then <paramref name="hardState"/> when
    /// given. The task completes when they are durable. Calls are written in call order; concurrent calls share one
    /// fdatasync. When <see cref="WalOptions.MaxPendingBytes"/> are queued the call waits for space; cancellation is
    /// honoured only during that wait (then nothing is written). An entry that would leave a gap after the log's
    /// last index fails the task with <see cref="InvalidOperationException"/>. The entries' data must not change
    /// until the task completes.
    /// </summary>
    public Task AppendAsync(IReadOnlyList<Entry> entries, HardState? hardState, CancellationToken cancellationToken = default) =>
        AppendAsync(null, entries, hardState, cancellationToken);

    /// <summary>
    /// As <see cref="AppendAsync(IReadOnlyList{Entry}, HardState?, CancellationToken)"/>, written after a snapshot
    /// marker when <paramref name="snapshot"/> is given: the log then continues after the snapshot's index, and a
    /// replay drops every entry before the marker (the snapshot holds them).
    /// </summary>
    public Task AppendAsync(WalSnapshot? snapshot, IReadOnlyList<Entry> entries, HardState? hardState, CancellationToken cancellationToken = default) =>
        AppendAsync(snapshot, entries, hardState, sync: true, cancellationToken);

    /// <summary>
    /// As <see cref="AppendAsync(WalSnapshot?, IReadOnlyList{Entry}, HardState?, CancellationToken)"/>; when
    /// <paramref name="sync"/> is false the task completes once the records are written, without an fdatasync of its
    /// own (Raft's MustSync: a hard state whose only change is the commit index may be lost in a crash). A later
    /// synced batch, or the segment's rotation, makes it durable.
    /// </summary>
    public Task AppendAsync(WalSnapshot? snapshot, IReadOnlyList<Entry> entries, HardState? hardState, bool sync, CancellationToken cancellationToken = default) =>
        Append(snapshot, entries, hardState, sync, resumeOnWriter: false, cancellationToken);

    /// <summary>
    /// As <see cref="AppendAsync(WalSnapshot?, IReadOnlyList{Entry}, HardState?, bool, CancellationToken)"/>, but
    /// the caller's continuation runs on the writer thread as the append completes, instead of being queued to the
    /// thread pool: one hand-off (and often one wake-up) less per append. Only for a caller that is the log's one
    /// writer and never blocks on the log in its continuation (the Raft loop): it holds the writer up while it runs,
    /// and its next append waits until it has handed the thread back by awaiting. It takes no cancellation token: a
    /// cancelled wait for space is completed under the gate, where a continuation must not run.
    /// </summary>
    public Task AppendOnWriterAsync(WalSnapshot? snapshot, IReadOnlyList<Entry> entries, HardState? hardState, bool sync) =>
        Append(snapshot, entries, hardState, sync, resumeOnWriter: true, CancellationToken.None);

    private Task Append(WalSnapshot? snapshot, IReadOnlyList<Entry> entries, HardState? hardState, bool sync, bool resumeOnWriter,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        long bytes = EncodedBytes(entries, hardState) + (snapshot is null ? 0 : WalRecordFormat.SnapshotRecordBytes);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }
        var pending = new PendingAppend(entries, hardState, bytes, resumeOnWriter) { Snapshot = snapshot, Sync = sync || snapshot is not null || entries.Count > 0 };
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_failure is not null)
            {
                return Task.FromException(FailedException(_failure));
            }
            AdmitWaiting();
            if (_waitingForSpace.Count == 0 && HasSpaceFor(bytes))
            {
                Admit(pending);
            }
            else
            {
                _waitingForSpace.Enqueue(pending);
                if (cancellationToken.CanBeCanceled)
                {
                    pending.Registration = cancellationToken.Register(CancelWaiting, (pending, cancellationToken));
                }
            }
        }
        return pending.Task;
    }

    /// <summary>
    /// Stops accepting appends, fails every append not yet taken by the writer with
    /// <see cref="ObjectDisposedException"/>, lets the batch being written finish (written and synced), stops the
    /// writer and closes the segment.
    /// </summary>
    public void Dispose()
    {
        List<PendingAppend> abandoned;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            abandoned = TakeAllUnwritten();
            Monitor.PulseAll(_gate);
        }
        var disposedException = new ObjectDisposedException(nameof(WriteAheadLog));
        foreach (PendingAppend pending in abandoned)
        {
            pending.TrySetException(disposedException);
        }
        if (Thread.CurrentThread != _writer)
        {
            _writer.Join();
            TrimPreallocation();
        }
        _segment.Dispose();
        _directoryLock.Dispose();
    }

    private static long EncodedBytes(IReadOnlyList<Entry> entries, HardState? hardState)
    {
        long bytes = hardState is null ? 0 : WalRecordFormat.HardStateRecordBytes;
        for (int position = 0; position < entries.Count; position++)
        {
            Entry entry = entries[position];
            if (entry.Index == 0)
            {
                throw new ArgumentException("Raft entry indices start at 1.", nameof(entries));
            }
            if (position > 0 && entry.Index != entries[position - 1].Index + 1)
            {
                throw new ArgumentException(
                    $"Entries must have contiguous ascending indices; {entry.Index} follows {entries[position - 1].Index}.", nameof(entries));
            }
            bytes += WalRecordFormat.EntryRecordBytes(entry);
        }
        if (bytes > MaxAppendBytes)
        {
            throw new ArgumentException($"One append may encode to at most {MaxAppendBytes} bytes; this one is {bytes}.", nameof(entries));
        }
        return bytes;
    }

    private bool HasSpaceFor(long bytes) => _pendingBytes == 0 || _pendingBytes + bytes <= _options.MaxPendingBytes;

    private void Admit(PendingAppend pending)
    {
        pending.Admitted = true;
        pending.Registration.Unregister();
        _queue.Add(pending);
        _pendingBytes += pending.Bytes;
        Monitor.Pulse(_gate);
    }

    /// <summary>Admits waiting appends, oldest first, while they fit; drops cancelled ones. Caller holds _gate.</summary>
    private void AdmitWaiting()
    {
        while (_waitingForSpace.TryPeek(out PendingAppend? head))
        {
            if (head.Task.IsCompleted)
            {
                _waitingForSpace.Dequeue();
            }
            else if (HasSpaceFor(head.Bytes))
            {
                Admit(_waitingForSpace.Dequeue());
            }
            else
            {
                return;
            }
        }
    }

    private void CancelWaiting(object? state)
    {
        var (pending, token) = ((PendingAppend, CancellationToken))state!;
        lock (_gate)
        {
            if (!pending.Admitted && pending.TrySetCanceled(token))
            {
                AdmitWaiting();
            }
        }
    }

    /// <summary>Removes every queued and waiting append. Caller holds _gate.</summary>
    private List<PendingAppend> TakeAllUnwritten()
    {
        var taken = new List<PendingAppend>(_queue);
        _queue.Clear();
        while (_waitingForSpace.TryDequeue(out PendingAppend? waiting))
        {
            waiting.Registration.Unregister();
            taken.Add(waiting);
        }
        return taken;
    }

    private void WriterLoop()
    {
        while (true)
        {
            List<PendingAppend> batch;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_disposed)
                {
                    Monitor.Wait(_gate);
                }
                if (_disposed)
                {
                    return;
                }
                batch = _queue;
                _queue = _spareQueue;
            }
            if (!TryWriteBatch(batch))
            {
                return;
            }
            lock (_gate)
            {
                batch.Clear();
                _spareQueue = batch;
            }
        }
    }

    /// <summary>Writes, syncs and completes one batch; false when the log has failed.</summary>
    private bool TryWriteBatch(List<PendingAppend> batch)
    {
        long batchBytes = 0;
        foreach (PendingAppend pending in batch)
        {
            batchBytes += pending.Bytes;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(batchBytes, 1));
        try
        {
            int length = EncodeBatch(batch, buffer);
            BeforeBatchWrite?.Invoke();
            if (length > 0)
            {
                Failpoints.Hit("walBeforeWrite");
                _segment.Write(buffer, 0, length);
                Metrics.StorageMetrics.WalWriteBytes.Inc(length);
                _segmentBytes += length;
                _segmentUnsynced = true;
                if (MustSync(batch))
                {
                    SyncSegment();
                }
            }
        }
        catch (Exception exception)
        {
            FailLog(exception, batch);
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        CompleteBatch(batch, batchBytes);
        return TryRotateIfFull() && TryPreallocate();
    }

    /// <summary>Zeros for <see cref="TryPreallocate"/> to write.</summary>
    private static readonly byte[] Zeros = new byte[64 << 10];

    /// <summary>
    /// Keeps the segment zero-filled and synced ahead of the write position, up to
    /// <see cref="WalOptions.PreallocationBytes"/> (never past the segment's size limit, so a closed segment ends at
    /// its last record). A record written over those zeros changes neither the file's size nor its block map, so its
    /// fdatasync writes the data and flushes the disk's cache, without the inode write an append's growing size
    /// costs (one of three waits for the device per sync on ext4: about 30% of an fdatasync here, docs/wal.md).
    /// Runs after a batch's callers are answered, so only the next batch waits for it: about 1.5 ms per MiB.
    /// </summary>
    private bool TryPreallocate()
    {
        long chunk = _options.PreallocationBytes;
        if (chunk == 0 || _preallocatedEnd - _segmentBytes >= chunk / 2)
        {
            return true;
        }
        long from = Math.Max(_preallocatedEnd, _segmentBytes);
        long end = Math.Min(_segmentBytes + chunk, _options.SegmentSizeBytes);
        if (end <= from)
        {
            return true;
        }
        lock (_gate)
        {
            if (_disposed)
            {
                return false; // disposed from a caller's continuation on this thread: the segment is closed
            }
        }
        try
        {
            for (long offset = from; offset < end; offset += Zeros.Length)
            {
                RandomAccess.Write(_segment.SafeFileHandle, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, end - offset)), offset);
            }
            FileSync.SyncData(_segment);
            _preallocatedEnd = end;
            return true;
        }
        catch (Exception exception)
        {
            // As a failed write: a disk that cannot take the zeros will not take the next batch either, and after a
            // failed sync nothing about the file is known.
            FailLog(exception, []);
            return false;
        }
    }

    /// <summary>Cuts a closed log's zeros after its last record, so that a stopped member's last segment ends at its
    /// last record (as every earlier segment does). Best effort: the reader takes a zero tail for the end anyway.</summary>
    private void TrimPreallocation()
    {
        if (_preallocatedEnd <= _segmentBytes || _failure is not null)
        {
            return;
        }
        try
        {
            _segment.SetLength(_segmentBytes);
            FileSync.SyncFile(_segment);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            WalLog.WriteFailed(_logger, exception, Path.Combine(_directory, _segmentName.FileName));
        }
    }

    /// <summary>Encodes the batch in call order; an append whose first index would leave a gap is failed and skipped.</summary>
    private int EncodeBatch(List<PendingAppend> batch, byte[] buffer)
    {
        int length = 0;
        foreach (PendingAppend pending in batch)
        {
            IReadOnlyList<Entry> entries = pending.Entries;
            if (pending.Snapshot is { } snapshot)
            {
                length += WalRecordFormat.WriteSnapshot(buffer.AsSpan(length), snapshot);
                _writtenLastIndex = snapshot.Index;
            }
            if (entries.Count > 0 && _writtenLastIndex != 0 && entries[0].Index > _writtenLastIndex + 1)
            {
                pending.Failure = new InvalidOperationException(
                    $"Entry index {entries[0].Index} would leave a gap after the WAL's last index {_writtenLastIndex}.");
                continue;
            }
            for (int position = 0; position < entries.Count; position++)
            {
                length += WalRecordFormat.WriteEntry(buffer.AsSpan(length), entries[position]);
            }
            if (entries.Count > 0)
            {
                _writtenLastIndex = entries[^1].Index;
            }
            if (pending.HardState is { } hardState)
            {
                length += WalRecordFormat.WriteHardState(buffer.AsSpan(length), hardState);
                _writtenHardState = hardState;
            }
        }
        return length;
    }

    private void CompleteBatch(List<PendingAppend> batch, long batchBytes)
    {
        lock (_gate)
        {
            _lastIndex = _writtenLastIndex;
            _hardState = _writtenHardState;
            _pendingBytes -= batchBytes;
            if (!_disposed)
            {
                AdmitWaiting();
            }
        }
        foreach (PendingAppend pending in batch)
        {
            if (pending.Failure is null)
            {
                pending.TrySetResult();
            }
            else
            {
                pending.TrySetException(pending.Failure);
            }
        }
    }

    private static bool MustSync(List<PendingAppend> batch)
    {
        foreach (PendingAppend pending in batch)
        {
            if (pending.Sync)
            {
                return true;
            }
        }
        return false;
    }

    private void SyncSegment()
    {
        Failpoints.Hit("walBeforeSync");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        FileSync.SyncData(_segment);
        Metrics.StorageMetrics.WalFsyncDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        _segmentUnsynced = false;
        Interlocked.Increment(ref _fsyncCount);
        Failpoints.Hit("walAfterSync");
    }

    private bool TryRotateIfFull()
    {
        if (_segmentBytes < _options.SegmentSizeBytes)
        {
            return true;
        }
        try
        {
            // A closed segment is whole on disk: a torn record is only tolerated at the tail of the last one.
            if (_segmentUnsynced)
            {
                SyncSegment();
            }
            var name = new WalSegmentName(_segmentName.Sequence + 1, _writtenLastIndex + 1);
            FileStream next = CreateSegment(_directory, name, _writtenHardState, _logger, out long segmentBytes);
            _segment.Dispose();
            _segment = next;
            _segmentName = name;
            _segmentBytes = _preallocatedEnd = segmentBytes;
            return true;
        }
        catch (Exception exception)
        {
            FailLog(exception, []);
            return false;
        }
    }

    /// <summary>After a failed write or sync the file's state is unknown: fail everything and refuse appends.</summary>
    private void FailLog(Exception exception, List<PendingAppend> batch)
    {
        WalLog.WriteFailed(_logger, exception, Path.Combine(_directory, _segmentName.FileName));
        List<PendingAppend> unwritten;
        lock (_gate)
        {
            _failure = exception;
            unwritten = TakeAllUnwritten();
        }
        Exception failed = FailedException(exception);
        foreach (PendingAppend pending in batch.Concat(unwritten))
        {
            pending.TrySetException(failed);
        }
    }

    private static IOException FailedException(Exception cause) =>
        new("The WAL failed to write or sync and accepts no more appends.", cause);

    private static FileStream OpenForAppend(string path, long validBytes)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read, bufferSize: 0);
        if (file.Length != validBytes)
        {
            file.SetLength(validBytes);
            FileSync.SyncFile(file);
        }
        file.Position = validBytes;
        return file;
    }

    /// <summary>Creates a segment that starts with <paramref name="hardState"/> (unless zero); syncs it and the directory.</summary>
    private static FileStream CreateSegment(string directory, WalSegmentName name, HardState hardState, ILogger logger, out long segmentBytes)
    {
        string path = Path.Combine(directory, name.FileName);
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
        try
        {
            segmentBytes = 0;
            if (hardState != default)
            {
                Span<byte> record = stackalloc byte[WalRecordFormat.HardStateRecordBytes];
                segmentBytes = WalRecordFormat.WriteHardState(record, hardState);
                file.Write(record);
            }
            FileSync.SyncFile(file);
            FileSync.SyncDirectory(directory);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        WalLog.SegmentCreated(logger, path);
        return file;
    }

    /// <summary>One call to <see cref="AppendAsync"/>: its records and the task its caller awaits.</summary>
    private sealed class PendingAppend(IReadOnlyList<Entry> entries, HardState? hardState, long bytes, bool resumeOnWriter)
        : TaskCompletionSource(resumeOnWriter ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public IReadOnlyList<Entry> Entries { get; } = entries;
        public HardState? HardState { get; } = hardState;
        public WalSnapshot? Snapshot { get; init; }
        public long Bytes { get; } = bytes;
        public bool Admitted { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
        public Exception? Failure { get; set; }
        public bool Sync { get; init; } = true;
    }
}
