using HttpKv.Raft;
using HttpKv.Storage.Wal;
using static HttpKv.Storage.Tests.Wal.WalTest;

namespace HttpKv.Storage.Tests.Wal;

/// <summary>Releasing segments whose entries the backend already holds bounds the WAL on disk and at start-up.</summary>
public sealed class WriteAheadLogReleaseTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private static readonly WalOptions SmallSegments = new() { SegmentSizeBytes = 256 };

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Release_deletes_only_segments_wholly_below_the_index_and_reopen_keeps_the_rest()
    {
        using (WriteAheadLog wal = Open(_directory, options: SmallSegments))
        {
            for (ulong index = 1; index <= 40; index++) await wal.AppendAsync([Entry(index)], new HardState(3, 1, index));
            int before = _directory.SegmentFiles().Length;
            Assert.True(before > 3, $"expected several segments, got {before}");

            int released = wal.ReleaseBefore(25);

            Assert.True(released > 0);
            Assert.Equal(before - released, _directory.SegmentFiles().Length);
            await wal.AppendAsync([Entry(41)], new HardState(3, 1, 41));
        }
        using WriteAheadLog reopened = Open(_directory, options: SmallSegments);
        Assert.Equal(new HardState(3, 1, 41), reopened.HardState);
        Assert.Equal(41ul, reopened.LastIndex);
        Assert.True(reopened.Entries[0].Index <= 25, $"entry 25 must be kept; the first kept entry is {reopened.Entries[0].Index}");
        Assert.Equal(Enumerable.Range((int)reopened.Entries[0].Index, 42 - (int)reopened.Entries[0].Index).Select(i => (ulong)i),
            reopened.Entries.Select(entry => entry.Index));
    }

    [Fact]
    public async Task Release_never_deletes_the_segment_being_written()
    {
        using WriteAheadLog wal = Open(_directory, options: SmallSegments);
        for (ulong index = 1; index <= 20; index++) await wal.AppendAsync([Entry(index)], null);
        wal.ReleaseBefore(ulong.MaxValue);
        Assert.Single(_directory.SegmentFiles());
        await wal.AppendAsync([Entry(21)], null);
    }
}
