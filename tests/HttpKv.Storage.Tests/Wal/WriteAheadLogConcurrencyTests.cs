using HttpKv.Raft;
using HttpKv.Storage.Wal;
using static HttpKv.Storage.Tests.Wal.WalTest;

namespace HttpKv.Storage.Tests.Wal;

public sealed class WriteAheadLogConcurrencyTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>Starts <paramref name="count"/> appends from thread-pool threads; indices follow call order.</summary>
    private static Task<Task>[] AppendConcurrently(WriteAheadLog wal, int count)
    {
        var callOrder = new object();
        ulong nextIndex = 0;
        return Enumerable.Range(0, count).Select(_ => Task.Factory.StartNew(() =>
        {
            lock (callOrder)
            {
                nextIndex++;
                return wal.AppendAsync([Entry(nextIndex)], new HardState(1, 1, nextIndex));
            }
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default)).ToArray();
    }

    [Fact]
    public async Task Group_commit_200_concurrent_appends_share_fsyncs_and_all_survive_reopen()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            var gate = new WriterGate();
            wal.BeforeBatchWrite = gate.Hook;
            Task<Task>[] calls = AppendConcurrently(wal, 200);
            await gate.WaitUntilWriterHeldAsync();        // the first batch is taken; the writer is held
            Task[] appends = await Task.WhenAll(calls);    // every call has returned: all 200 are queued
            gate.Release();
            await Task.WhenAll(appends).WaitAsync(Patience);

            Assert.True(wal.FsyncCount < 200, $"FsyncCount {wal.FsyncCount}");
            Assert.InRange(wal.FsyncCount, 1, 2); // the held batch, then everything queued behind it
            Assert.Equal(200ul, wal.LastIndex);
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal(Enumerable.Range(1, 200).Select(index => (ulong)index), reopened.Entries.Select(entry => entry.Index));
        Assert.Equal(new HardState(1, 1, 200), reopened.HardState);
    }

    [Fact]
    public async Task A_commit_only_hard_state_is_written_without_its_own_fsync_and_a_rotation_syncs_it()
    {
        var options = new WalOptions { SegmentSizeBytes = 1 << 20 };
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            await wal.AppendAsync([Entry(1)], new HardState(1, 1, 0)).WaitAsync(Patience);
            long afterEntry = wal.FsyncCount;
            await wal.AppendAsync(null, [], new HardState(1, 1, 1), sync: false).WaitAsync(Patience);
            Assert.Equal(afterEntry, wal.FsyncCount);
            // Entries always sync, whatever the caller says: an acknowledged entry is durable.
            await wal.AppendAsync(null, [Entry(2)], null, sync: false).WaitAsync(Patience);
            Assert.Equal(afterEntry + 1, wal.FsyncCount);
        }
        using (WriteAheadLog reopened = Open(_directory, options: options))
        {
            Assert.Equal(new HardState(1, 1, 1), reopened.HardState); // written, and here after a clean close
        }

        var small = new WalOptions { SegmentSizeBytes = 1 };
        var rotating = Open(_directory, options: small);
        long before = rotating.FsyncCount;
        await rotating.AppendAsync(null, [], new HardState(1, 1, 2), sync: false).WaitAsync(Patience);
        rotating.Dispose(); // waits for the writer, which rotates after completing the batch
        Assert.True(rotating.FsyncCount > before, "closing a segment with an unsynced tail must sync it first");
    }

    [Fact]
    public async Task Unhindered_concurrent_appends_are_all_durable_in_call_order()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            Task[] appends = await Task.WhenAll(AppendConcurrently(wal, 200));
            await Task.WhenAll(appends).WaitAsync(Patience);
            Assert.InRange(wal.FsyncCount, 1, 200);
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal(Enumerable.Range(1, 200).Select(index => (ulong)index), reopened.Entries.Select(entry => entry.Index));
    }

    [Fact]
    public async Task Dispose_fails_pending_appends_and_finishes_the_batch_being_written()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            var gate = new WriterGate();
            wal.BeforeBatchWrite = gate.Hook;
            Task first = wal.AppendAsync([Entry(1)], null);
            await gate.WaitUntilWriterHeldAsync();
            Task second = wal.AppendAsync([Entry(2)], null);
            Task third = wal.AppendAsync([Entry(3)], new HardState(1, 1, 3));

            Task disposing = Task.Run(wal.Dispose);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => second.WaitAsync(Patience));
            await Assert.ThrowsAsync<ObjectDisposedException>(() => third.WaitAsync(Patience));
            Assert.False(first.IsCompleted);

            gate.Release();
            await first.WaitAsync(Patience);
            await disposing.WaitAsync(Patience);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => wal.AppendAsync([Entry(2)], null));
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal([1ul], reopened.Entries.Select(entry => entry.Index));
        Assert.Equal(default, reopened.HardState);
    }

    [Fact]
    public async Task Back_pressure_holds_appends_beyond_max_pending_bytes_and_cancellation_drops_a_waiting_one()
    {
        const int entryRecordBytes = 33; // 8 header + 1 record type + 16 term/index + 1 entry type + 7 data
        var options = new WalOptions { MaxPendingBytes = 2 * entryRecordBytes };
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            var gate = new WriterGate();
            wal.BeforeBatchWrite = gate.Hook;
            Task first = wal.AppendAsync([Entry(1)], null);
            await gate.WaitUntilWriterHeldAsync();
            Task second = wal.AppendAsync([Entry(2)], null);
            Task third = wal.AppendAsync([Entry(3)], null);
            using var cancellation = new CancellationTokenSource();
            Task fourth = wal.AppendAsync([Entry(4)], null, cancellation.Token);
            try
            {
                Assert.Equal(2 * entryRecordBytes, wal.PendingBytes);
                await cancellation.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fourth.WaitAsync(Patience));
                Assert.False(third.IsCompleted);
            }
            finally
            {
                gate.Release(); // a failed check must not leave the writer held (disposing the log would wait for it)
            }
            await Task.WhenAll(first, second, third).WaitAsync(Patience);
            Assert.Equal(0, wal.PendingBytes);
        }

        using WriteAheadLog reopened = Open(_directory, options: options);
        Assert.Equal([1ul, 2ul, 3ul], reopened.Entries.Select(entry => entry.Index));
    }

    [Fact]
    public async Task One_append_larger_than_max_pending_bytes_is_admitted_alone()
    {
        var options = new WalOptions { MaxPendingBytes = 10 };
        using (WriteAheadLog wal = Open(_directory, options: options))
        {
            await wal.AppendAsync(Entries(1, 20), null).WaitAsync(Patience);
            await wal.AppendAsync(Entries(21, 40), null).WaitAsync(Patience);
        }

        using WriteAheadLog reopened = Open(_directory, options: options);
        Assert.Equal(40, reopened.Entries.Count);
    }

    [Fact]
    public async Task After_a_failed_write_every_append_fails_until_reopen()
    {
        using (WriteAheadLog wal = Open(_directory))
        {
            await wal.AppendAsync(Entries(1, 2), new HardState(1, 1, 2));
            wal.BeforeBatchWrite = () => throw new IOException("injected disk failure");

            var failed = await Assert.ThrowsAsync<IOException>(() => wal.AppendAsync([Entry(3)], null).WaitAsync(Patience));
            Assert.Equal("injected disk failure", failed.InnerException?.Message);
            wal.BeforeBatchWrite = null;
            await Assert.ThrowsAsync<IOException>(() => wal.AppendAsync([Entry(3)], null).WaitAsync(Patience));
            Assert.Equal(2ul, wal.LastIndex);
        }

        using WriteAheadLog reopened = Open(_directory);
        Assert.Equal([1ul, 2ul], reopened.Entries.Select(entry => entry.Index));
        await reopened.AppendAsync([Entry(3)], null).WaitAsync(Patience);
    }
}

/// <summary>Where an append's caller resumes: on the writer thread for <see cref="WriteAheadLog.AppendOnWriterAsync"/>
/// (the Raft loop's hand-off saved), on the thread pool for every other append.</summary>
public sealed class WriteAheadLogContinuationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AppendOnWriterAsync_resumes_its_caller_on_the_writer_thread_and_AppendAsync_does_not()
    {
        using WriteAheadLog wal = Open(_directory);
        // The first batch is held until its caller awaits it: had it completed first, the caller would go on inline.
        var gate = new WriterGate();
        wal.BeforeBatchWrite = gate.Hook;
        var resumed = Task.Run(() => ResumedWhereAsync(wal));
        await gate.WaitUntilWriterHeldAsync();
        await Task.Delay(50);
        gate.Release();
        var (onWriter, thenWritten, elsewhere) = await resumed;
        Assert.Equal("wal-writer", onWriter);
        Assert.Equal(2ul, thenWritten);
        Assert.True(elsewhere);
    }

    /// <summary>The thread the first append resumed on, the last index after a second append from there, and whether
    /// a plain append resumed on the thread pool.</summary>
    private static async Task<(string? OnWriter, ulong ThenWritten, bool PlainOnPool)> ResumedWhereAsync(WriteAheadLog wal)
    {
        await wal.AppendOnWriterAsync(null, [Entry(1)], new HardState(1, 1, 1), sync: true).ConfigureAwait(false);
        var onWriter = Thread.CurrentThread.IsThreadPoolThread ? null : Thread.CurrentThread.Name;
        // Resumed by the writer: a further append from here is written once we hand the thread back by awaiting.
        await wal.AppendOnWriterAsync(null, [Entry(2)], new HardState(1, 1, 2), sync: true).WaitAsync(Patience).ConfigureAwait(false);
        var written = wal.LastIndex;
        await wal.AppendAsync([Entry(3)], new HardState(1, 1, 3)).ConfigureAwait(false);
        return (onWriter, written, Thread.CurrentThread.IsThreadPoolThread);
    }
}
