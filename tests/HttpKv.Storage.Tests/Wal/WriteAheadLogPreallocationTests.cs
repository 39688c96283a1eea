using HttpKv.Raft;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;
using static HttpKv.Storage.Tests.Wal.WalTest;

namespace HttpKv.Storage.Tests.Wal;

/// <summary>The writer keeps zeros ahead of its records (<see cref="WalOptions.PreallocationBytes"/>), so that an
/// append's fdatasync carries no change of the file's size; a killed member leaves them behind.</summary>
public sealed class WriteAheadLogPreallocationTests : IDisposable
{
    private const int Preallocation = 4096;

    private readonly TempDirectory _directory = new();
    private readonly TempDirectory _killed = new();

    public void Dispose()
    {
        _directory.Dispose();
        _killed.Dispose();
    }

    private static WalOptions Options(long segmentBytes = 64L << 20) =>
        new() { PreallocationBytes = Preallocation, SegmentSizeBytes = segmentBytes };

    /// <summary>Waits for the writer, which zero-fills after it has answered a batch's callers, to have made the
    /// segment <paramref name="length"/> bytes long.</summary>
    private static async Task UntilLengthAsync(string segment, long length)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (new FileInfo(segment).Length != length && waited.Elapsed < Patience)
        {
            await Task.Delay(5);
        }
        Assert.Equal(length, new FileInfo(segment).Length);
    }

    /// <summary>The segments as a kill -9 would leave them: copied while the log is open.</summary>
    private void CopySegmentsAsKilled()
    {
        Directory.CreateDirectory(_killed.Path);
        foreach (string segment in _directory.SegmentFiles())
        {
            File.Copy(segment, Path.Combine(_killed.Path, Path.GetFileName(segment)));
        }
    }

    [Fact]
    public async Task Appends_after_the_first_land_in_synced_zeros_and_leave_the_file_size_unchanged()
    {
        using WriteAheadLog wal = Open(_directory, options: Options());
        await wal.AppendAsync(Entries(1, 3), null);
        string segment = Assert.Single(_directory.SegmentFiles());
        await UntilLengthAsync(segment, 3 * EntryRecordBytes + Preallocation);

        for (ulong index = 4; index <= 20; index++)
        {
            await wal.AppendAsync([Entry(index)], new HardState(1, 1, index));
        }

        byte[] bytes = await File.ReadAllBytesAsync(segment);
        Assert.Equal(3 * EntryRecordBytes + Preallocation, bytes.Length);
        int records = 20 * EntryRecordBytes + 17 * WalRecordFormat.HardStateRecordBytes;
        Assert.True(bytes.AsSpan(records).IndexOfAnyExcept((byte)0) < 0, "the bytes after the records are not all zeros");
    }

    [Fact]
    public async Task The_zeros_are_renewed_as_records_use_them_up()
    {
        using WriteAheadLog wal = Open(_directory, options: Options());
        for (ulong index = 1; index <= 300; index++)
        {
            await wal.AppendAsync([Entry(index)], null);
        }
        string segment = Assert.Single(_directory.SegmentFiles());
        long length = new FileInfo(segment).Length;
        Assert.InRange(length - 300 * EntryRecordBytes, Preallocation / 2, Preallocation);
    }

    [Fact]
    public async Task A_log_closed_cleanly_ends_at_its_last_record()
    {
        using (WriteAheadLog wal = Open(_directory, options: Options()))
        {
            await wal.AppendAsync(Entries(1, 5), null);
        }
        Assert.Equal(5 * EntryRecordBytes, new FileInfo(Assert.Single(_directory.SegmentFiles())).Length);
    }

    [Fact]
    public async Task A_killed_logs_zeros_are_cut_without_a_warning_and_appends_continue_after_them()
    {
        using (WriteAheadLog wal = Open(_directory, options: Options()))
        {
            await wal.AppendAsync(Entries(1, 5), new HardState(1, 1, 5));
            await UntilLengthAsync(Assert.Single(_directory.SegmentFiles()), 5 * EntryRecordBytes + WalRecordFormat.HardStateRecordBytes + Preallocation);
            CopySegmentsAsKilled();
        }
        var logger = new RecordingLogger();

        using (WriteAheadLog reopened = Open(_killed, logger, Options()))
        {
            Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul], reopened.Entries.Select(entry => entry.Index));
            Assert.Equal(new HardState(1, 1, 5), reopened.HardState);
            Assert.DoesNotContain(logger.Messages, message => message.Level >= LogLevel.Warning);
            await reopened.AppendAsync(Entries(6, 7, term: 2), new HardState(2, 1, 7));
        }

        using WriteAheadLog again = Open(_killed, options: Options());
        Assert.Equal([(1ul, 1ul, "entry-1"), (1ul, 2ul, "entry-2"), (1ul, 3ul, "entry-3"), (1ul, 4ul, "entry-4"), (1ul, 5ul, "entry-5"),
            (2ul, 6ul, "entry-6"), (2ul, 7ul, "entry-7")], Describe(again.Entries));
        Assert.Equal(new HardState(2, 1, 7), again.HardState);
    }

    [Fact]
    public async Task A_torn_record_before_the_zeros_is_cut_with_a_warning_and_a_damaged_one_before_valid_records_is_fatal()
    {
        using (WriteAheadLog wal = Open(_directory, options: Options()))
        {
            await wal.AppendAsync(Entries(1, 4), null);
            await UntilLengthAsync(Assert.Single(_directory.SegmentFiles()), 4 * EntryRecordBytes + Preallocation);
            CopySegmentsAsKilled();
        }
        string segment = Assert.Single(_killed.SegmentFiles());
        byte[] original = await File.ReadAllBytesAsync(segment);

        byte[] torn = (byte[])original.Clone();
        torn.AsSpan(3 * EntryRecordBytes + 20, EntryRecordBytes - 20).Clear(); // the last record's end never reached the disk
        await File.WriteAllBytesAsync(segment, torn);
        var logger = new RecordingLogger();
        using (WriteAheadLog reopened = Open(_killed, logger, Options()))
        {
            Assert.Equal([1ul, 2ul, 3ul], reopened.Entries.Select(entry => entry.Index));
            Assert.Contains(logger.Messages, message => message.Level == LogLevel.Warning && message.Message.Contains($"offset {3 * EntryRecordBytes}"));
        }

        byte[] damaged = (byte[])original.Clone();
        damaged[EntryRecordBytes + 12] ^= 0x10;
        await File.WriteAllBytesAsync(segment, damaged);
        var exception = Assert.Throws<WalCorruptionException>(() => Open(_killed, options: Options()));
        Assert.Equal(EntryRecordBytes, exception.Offset);
    }

    [Fact]
    public async Task Closed_segments_hold_no_zeros_and_the_log_reopens_whole()
    {
        WalOptions options = Options(segmentBytes: 1024);
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            for (ulong index = 1; index <= 200; index++)
            {
                await wal.AppendAsync([Entry(index)], null);
            }
            CopySegmentsAsKilled();
        }
        string[] segments = _killed.SegmentFiles();
        Assert.True(segments.Length >= 5, $"expected several segments, found {segments.Length}");
        foreach (string closed in segments[..^1])
        {
            byte[] bytes = await File.ReadAllBytesAsync(closed);
            Assert.InRange(bytes.Length, 1024, 1024 + EntryRecordBytes);
            Assert.NotEqual(0, bytes[^1]); // every record here ends with a digit of "entry-N"
        }

        using WriteAheadLog reopened = Open(_killed, options: options);
        Assert.Equal(Enumerable.Range(1, 200).Select(index => (ulong)index), reopened.Entries.Select(entry => entry.Index));
    }

    [Fact]
    public async Task Without_preallocation_the_file_ends_at_its_last_record()
    {
        using WriteAheadLog wal = Open(_directory, options: new WalOptions { PreallocationBytes = 0 });
        await wal.AppendAsync(Entries(1, 3), null);
        Assert.Equal(3 * EntryRecordBytes, new FileInfo(Assert.Single(_directory.SegmentFiles())).Length);
    }
}
