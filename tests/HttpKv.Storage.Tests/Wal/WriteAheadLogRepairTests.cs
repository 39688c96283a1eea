using System.Buffers.Binary;
using HttpKv.Raft;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;
using static HttpKv.Storage.Tests.Wal.WalTest;

namespace HttpKv.Storage.Tests.Wal;

public sealed class WriteAheadLogRepairTests : IDisposable
{

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private async Task<string> WriteEntriesAsync(ulong count)
    {
        using WriteAheadLog wal = Open(_directory);
        await wal.AppendAsync(Entries(1, count), null);
        return Assert.Single(_directory.SegmentFiles());
    }

    [Fact]
    public async Task A_record_cut_short_is_cut_off_and_appends_continue_after_reopen()
    {
        string segment = await WriteEntriesAsync(3);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(2 * EntryRecordBytes + 13);
        }
        var logger = new RecordingLogger();

        using (WriteAheadLog wal = Open(_directory, logger))
        {
            Assert.Equal([1ul, 2ul], wal.Entries.Select(entry => entry.Index));
            Assert.Equal(2 * EntryRecordBytes, new FileInfo(segment).Length);
            (LogLevel level, string message) = Assert.Single(logger.Messages, message => message.Level == LogLevel.Warning);
            Assert.Contains(Path.GetFileName(segment), message);
            Assert.Contains($"offset {2 * EntryRecordBytes}", message);
            await wal.AppendAsync(Entries(3, 4, term: 2), null);
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal([(1ul, 1ul, "entry-1"), (1ul, 2ul, "entry-2"), (2ul, 3ul, "entry-3"), (2ul, 4ul, "entry-4")], Describe(reopened.Entries));
    }

    /// <summary>Zeros after the last record are the writer's preallocation (a member killed before it closed its log
    /// leaves them): cut without a warning. Garbage is a torn write: cut with one.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Garbage_or_zeros_after_the_last_record_are_cut_off_and_appends_continue_after_reopen(bool zeros)
    {
        string segment = await WriteEntriesAsync(3);
        byte[] garbage = new byte[37];
        if (!zeros)
        {
            new Random(42).NextBytes(garbage);
        }
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(garbage);
        }
        var logger = new RecordingLogger();

        using (WriteAheadLog wal = Open(_directory, logger))
        {
            Assert.Equal([1ul, 2ul, 3ul], wal.Entries.Select(entry => entry.Index));
            Assert.Equal(3 * EntryRecordBytes, new FileInfo(segment).Length);
            if (zeros)
            {
                Assert.DoesNotContain(logger.Messages, message => message.Level >= LogLevel.Warning);
            }
            else
            {
                Assert.Contains(logger.Messages, message => message.Level == LogLevel.Warning && message.Message.Contains($"offset {3 * EntryRecordBytes}"));
            }
            await wal.AppendAsync(Entries(4, 4), new HardState(1, 1, 4));
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal([1ul, 2ul, 3ul, 4ul], reopened.Entries.Select(entry => entry.Index));
        Assert.Equal(new HardState(1, 1, 4), reopened.HardState);
    }

    [Fact]
    public async Task A_last_record_with_a_bad_crc_and_nothing_after_it_is_cut_off()
    {
        string segment = await WriteEntriesAsync(3);
        FlipByte(segment, 2 * EntryRecordBytes + 20);

        using WriteAheadLog wal = Open(_directory);

        Assert.Equal([1ul, 2ul], wal.Entries.Select(entry => entry.Index));
    }

    [Theory]
    [InlineData(0)]  // length
    [InlineData(5)]  // CRC
    [InlineData(8)]  // type
    [InlineData(12)] // term
    [InlineData(30)] // data
    public async Task A_damaged_record_with_valid_records_after_it_throws_naming_file_and_offset(int byteInRecord)
    {
        string segment = await WriteEntriesAsync(5);
        const int damagedOffset = 2 * EntryRecordBytes;
        FlipByte(segment, damagedOffset + byteInRecord);
        long lengthBefore = new FileInfo(segment).Length;

        var exception = Assert.Throws<WalCorruptionException>(() => Open(_directory));

        Assert.Equal(segment, exception.FilePath);
        Assert.Equal(damagedOffset, exception.Offset);
        Assert.Contains(Path.GetFileName(segment), exception.Message);
        Assert.Contains($"offset {damagedOffset}", exception.Message);
        Assert.Equal(lengthBefore, new FileInfo(segment).Length);
    }

    [Fact]
    public async Task An_entry_of_a_type_Raft_does_not_know_is_not_replayed_even_with_a_matching_crc()
    {
        string segment = await WriteEntriesAsync(5);
        const int recordOffset = 2 * EntryRecordBytes;
        byte[] bytes = File.ReadAllBytes(segment);
        bytes[recordOffset + WalRecordFormat.HeaderBytes + 1 + 16] = 7; // the entry's type: Raft has 0 and 1
        int bodyBytes = EntryRecordBytes - WalRecordFormat.HeaderBytes;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(recordOffset + 4), Crc32C.Compute(bytes.AsSpan(recordOffset + WalRecordFormat.HeaderBytes, bodyBytes)));
        File.WriteAllBytes(segment, bytes);

        var exception = Assert.Throws<WalCorruptionException>(() => Open(_directory));

        Assert.Equal(recordOffset, exception.Offset);
    }

    [Fact]
    public async Task A_damaged_tail_in_a_segment_before_the_last_throws()
    {
        var options = new WalOptions { SegmentSizeBytes = 1 };
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            await wal.AppendAsync(Entries(1, 2), null);
            await wal.AppendAsync(Entries(3, 4), null);
        }
        string first = _directory.SegmentFiles()[0];
        FlipByte(first, EntryRecordBytes + 20);

        var exception = Assert.Throws<WalCorruptionException>(() => Open(_directory, options: options));

        Assert.Equal(first, exception.FilePath);
        Assert.Equal(EntryRecordBytes, exception.Offset);
    }

    [Fact]
    public async Task A_missing_segment_in_the_sequence_throws()
    {
        var options = new WalOptions { SegmentSizeBytes = 1 };
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            for (ulong index = 1; index <= 3; index++)
            {
                await wal.AppendAsync([Entry(index)], null);
            }
        }
        File.Delete(_directory.SegmentFiles()[1]);

        Assert.Throws<WalCorruptionException>(() => Open(_directory, options: options));
    }

    [Fact]
    public async Task Every_cut_point_opens_with_exactly_the_whole_records_before_it()
    {
        string segment = await WriteEntriesAsync(6);
        byte[] original = await File.ReadAllBytesAsync(segment);

        for (int length = 0; length <= original.Length; length++)
        {
            await File.WriteAllBytesAsync(segment, original[..length]);
            using WriteAheadLog wal = Open(_directory);
            int wholeRecords = length / EntryRecordBytes;
            Assert.Equal(Enumerable.Range(1, wholeRecords).Select(index => (ulong)index), wal.Entries.Select(entry => entry.Index));
            Assert.Equal(wholeRecords * EntryRecordBytes, new FileInfo(segment).Length);
        }
    }

    [Fact]
    public async Task Every_flipped_byte_is_caught_at_its_record_cut_in_the_last_record_and_fatal_before_it()
    {
        const int records = 4;
        string segment = await WriteEntriesAsync(records);
        byte[] original = await File.ReadAllBytesAsync(segment);

        for (int offset = 0; offset < original.Length; offset++)
        {
            byte[] damaged = (byte[])original.Clone();
            damaged[offset] ^= 0x5A;
            await File.WriteAllBytesAsync(segment, damaged);
            int recordOffset = offset / EntryRecordBytes * EntryRecordBytes;
            if (recordOffset == (records - 1) * EntryRecordBytes)
            {
                using WriteAheadLog wal = Open(_directory);
                Assert.Equal(records - 1, wal.Entries.Count);
            }
            else
            {
                var exception = Assert.Throws<WalCorruptionException>(() => Open(_directory));
                Assert.Equal(recordOffset, exception.Offset);
            }
        }
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        int value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0xFF));
    }
}
