using BenchmarkDotNet.Attributes;
using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Benchmarks;

/// <summary>The apply loop's store work for one batch of committed puts: BeginApply, Apply each, Commit (one LMDB
/// write transaction, not fsynced: commits are lazy), and the batch's events for the watch hub. The puts overwrite
/// 1,000 keys in turn, so the store's history grows as it does under a put load.</summary>
[MemoryDiagnoser]
public class ApplyBenchmarks
{
    private const int KeySpace = 1_000;
    private string directory = "";
    private MvccStore store = null!;
    private LogRequest[] requests = [];
    private ulong logIndex;
    private int next;

    [Params(1, 64)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        directory = Data.TempDirectory();
        store = MvccStore.Open(Path.Combine(directory, "backend"), new MvccOptions { MapSizeBytes = 16L << 30 }, NullLogger.Instance);
        var value = Data.Value(3);
        requests = Enumerable.Range(0, KeySpace)
            .Select(i => new LogRequest { Id = (ulong)i + 1, Put = new PutRequest { Key = Data.Key(i), Value = value } })
            .ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        store.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    [Benchmark]
    public int ApplyPutBatch()
    {
        using var batch = store.BeginApply();
        for (var i = 0; i < BatchSize; i++)
        {
            batch.Apply(++logIndex, requests[next]);
            next = (next + 1) % KeySpace;
        }
        batch.Commit();
        return batch.Events.Count;
    }
}
