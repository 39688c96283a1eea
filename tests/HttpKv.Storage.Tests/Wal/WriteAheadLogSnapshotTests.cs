using HttpKv.Raft;
using HttpKv.Storage.Wal;
using static HttpKv.Storage.Tests.Wal.WalTest;

namespace HttpKv.Storage.Tests.Wal;

/// <summary>A snapshot marker lets the log jump past entries a snapshot holds (a follower that installed one).</summary>
public sealed class WriteAheadLogSnapshotTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Entries_after_a_snapshot_marker_continue_from_its_index_and_replay_drops_the_ones_before()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            await wal.AppendAsync(Entries(1, 10), new HardState(2, 1, 10));
            await wal.AppendAsync(new WalSnapshot(100, 3), Entries(101, 105, term: 3), new HardState(3, 1, 105));
            Assert.Equal(105ul, wal.LastIndex);
        }
        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal(new WalSnapshot(100, 3), reopened.Snapshot);
        Assert.Equal(Enumerable.Range(101, 5).Select(i => (ulong)i), reopened.Entries.Select(entry => entry.Index));
        Assert.Equal(105ul, reopened.LastIndex);
        Assert.Equal(new HardState(3, 1, 105), reopened.HardState);
    }

    [Fact]
    public async Task A_marker_alone_moves_the_last_index()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            await wal.AppendAsync(new WalSnapshot(50, 2), [], new HardState(2, 0, 50));
            await wal.AppendAsync([Entry(51, 2)], null);
        }
        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal(51ul, reopened.LastIndex);
        Assert.Equal(51ul, Assert.Single(reopened.Entries).Index);
    }
}
