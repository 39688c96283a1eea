using System.Diagnostics;
using System.Text;
using HttpKv.Storage.Backend;
using HttpKv.Storage.Tests.Wal;
using Xunit.Abstractions;

namespace HttpKv.Storage.Tests.Backend;

/// <summary>Online defragmentation: the file shrinks to the pages in use, every committed change survives (those
/// made during the copy too), readers that began before keep reading the old file, and the writer waits only for the
/// last catch-up round.</summary>
public sealed class LmdbBackendDefragmentTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory directory = new();
    private string FilePath => Path.Combine(directory.Path, "db");
    private static readonly BackendOptions Options = new() { MapSizeBytes = 4L << 30, Buckets = ["key", "meta"] };
    private static readonly byte[] Value = new byte[1024];

    private static byte[] Key(int i) => Encoding.UTF8.GetBytes($"key-{i:D7}");

    private static void Put(LmdbBackend backend, int from, int count)
    {
        using var write = backend.BeginWrite();
        for (var i = from; i < from + count; i++) write.Put(backend.Bucket("key"), Key(i), Value);
        write.Commit();
    }

    private static void Delete(LmdbBackend backend, int from, int count)
    {
        using var write = backend.BeginWrite();
        for (var i = from; i < from + count; i++) write.Delete(backend.Bucket("key"), Key(i));
        write.Commit();
    }

    private static HashSet<string> Keys(LmdbBackend backend)
    {
        var keys = new HashSet<string>();
        using var read = backend.BeginRead();
        read.Scan(backend.Bucket("key"), default, (key, value) =>
        {
            Assert.Equal(Value.Length, value.Length);
            keys.Add(Encoding.UTF8.GetString(key));
            return true;
        });
        return keys;
    }

    [Fact]
    public void After_deletes_the_file_shrinks_to_what_is_in_use_and_every_key_is_kept()
    {
        using (var backend = LmdbBackend.Open(FilePath, Options))
        {
            for (var batch = 0; batch < 20; batch++) Put(backend, batch * 1000, 1000);
            Delete(backend, 0, 18_000);
            var before = backend.Size;
            var inUse = backend.SizeInUse;
            Assert.True(inUse < before / 4, $"in use {inUse} of {before}");

            var result = backend.Defragment();

            output.WriteLine($"{result}");
            Assert.Equal(before, result.SizeBefore);
            Assert.True(backend.Size < before / 4, $"after {backend.Size}, before {before}");
            Assert.Equal(backend.Size, new FileInfo(FilePath).Length);
            Assert.Equal(2000, Keys(backend).Count);
            Put(backend, 50_000, 10); // the writer works on the new file
        }
        Assert.False(File.Exists(FilePath + ".defrag"));
        using var reopened = LmdbBackend.Open(FilePath, Options);
        Assert.Equal(2010, reopened.Verify(reopened.Bucket("key")));
    }

    [Fact]
    public async Task Writes_and_reads_go_on_during_the_copy_and_none_is_lost()
    {
        using var backend = LmdbBackend.Open(FilePath, Options);
        for (var batch = 0; batch < 40; batch++) Put(backend, batch * 1000, 1000);
        Delete(backend, 0, 30_000);
        var oldReader = backend.BeginRead(); // begun before: keeps the old file's view until it ends

        using var stop = new CancellationTokenSource();
        var written = 0;
        var longestCommit = TimeSpan.Zero;
        var writer = Task.Run(() =>
        {
            var next = 100_000;
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                Put(backend, next, 10);
                Delete(backend, next - 5, 1); // a delete of a key put in the same run
                var took = Stopwatch.GetElapsedTime(started);
                if (took > longestCommit) longestCommit = took;
                next += 10;
                written = next - 100_000;
                Thread.Sleep(1); // a steady stream rather than a flood: with a reader pinning old pages every commit grows the file
            }
        });
        var reads = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var read = backend.BeginRead();
                Assert.True(read.TryGet(backend.Bucket("key"), Key(35_000), out _));
                reads++;
            }
        });
        while (Volatile.Read(ref written) < 200) await Task.Delay(1);

        var result = await Task.Run(() => backend.Defragment());
        await Task.Delay(50);
        stop.Cancel();
        await Task.WhenAll(writer, reader);

        output.WriteLine($"{result}; {written} puts during the run, {reads} reads, longest commit {longestCommit.TotalMilliseconds:F1} ms");
        Assert.True(result.SizeAfter < result.SizeBefore / 2, $"{result}");
        Assert.True(oldReader.TryGet(backend.Bucket("key"), Key(35_000), out var old));
        Assert.Equal(Value.Length, old.Length);
        oldReader.Dispose();
        var keys = Keys(backend);
        var expected = Enumerable.Range(30_000, 10_000).Concat(Enumerable.Range(100_000, written).Where(i => i % 10 != 5 || i >= 100_000 + written - 10))
            .Select(i => Encoding.UTF8.GetString(Key(i))).ToHashSet();
        Assert.Equal(expected.Count, keys.Count);
        Assert.True(expected.SetEquals(keys));
    }

    [Fact]
    public async Task Too_many_writes_during_the_copy_give_up_and_leave_the_file_as_it_was()
    {
        using var backend = LmdbBackend.Open(FilePath, Options);
        Put(backend, 0, 5000);
        using var stop = new CancellationTokenSource();
        var batches = 0;
        var writer = Task.Run(() =>
        {
            var next = 10_000;
            while (!stop.IsCancellationRequested)
            {
                Put(backend, next += 100, 100);
                Interlocked.Increment(ref batches);
            }
        });
        // Once the copy is made, wait for a write recorded behind it: on a busy machine the writer may otherwise not
        // get a turn while the small file is copied, and nothing would be there to overflow the journal.
        void AfterCopy(string _)
        {
            var seen = Volatile.Read(ref batches);
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref batches) > seen, TimeSpan.FromSeconds(30)), "the writer never wrote");
        }
        var error = Assert.Throws<InvalidOperationException>(() => backend.Defragment(new DefragmentLimits { MaxJournalBytes = 1 }, AfterCopy));
        stop.Cancel();
        await writer;
        Assert.Contains("defragmentation aborted", error.Message);
        Assert.False(File.Exists(FilePath + ".defrag"));
        Assert.Contains("key-0004999", Keys(backend));
        Put(backend, 1_000_000, 1);
    }

    public void Dispose() => directory.Dispose();
}
