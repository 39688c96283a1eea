using BenchmarkDotNet.Attributes;
using HttpKv.Mvcc;

namespace HttpKv.Benchmarks;

/// <summary>The key index's share of a put under gobench's put load: a key drawn at random from a large key space
/// (so the index is out of the CPU's caches, as in the server), looked up, its current revision read and a new one
/// recorded — what <c>ApplyBatch</c>'s write does to the index — and a point lookup alone (a single-key range).</summary>
[MemoryDiagnoser]
public class IndexBenchmarks
{
    private const int Probes = 1 << 16;
    private TreeIndex index = new();
    private byte[][] probes = [];
    private long revision;
    private int next;

    /// <summary>Keys in the index; gobench's default key space is 100,000.</summary>
    [Params(100_000, 1_000_000)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        index = new TreeIndex();
        var random = new Random(17);
        for (var i = 0; i < Keys; i++) Put(GobenchKey(i));
        for (var round = 0; round < 2; round++) // two more revisions per key, in random order, as a run leaves them
        {
            for (var i = 0; i < Keys; i++) Put(GobenchKey(random.Next(Keys)));
        }
        probes = Enumerable.Range(0, Probes).Select(_ => GobenchKey(random.Next(Keys))).ToArray();
    }

    /// <summary>gobench's key: the index zero-padded to 8 bytes.</summary>
    private static byte[] GobenchKey(int i) => System.Text.Encoding.ASCII.GetBytes(i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture));

    private void Put(byte[] key)
    {
        var at = new Revision(++revision + 1, 0);
        var existing = index.Find(key);
        long created = at.Main, version = 1;
        if (existing is not null && existing.TryGet(at.Main, out _, out var createdBefore, out var versionBefore))
        {
            created = createdBefore;
            version = versionBefore + 1;
        }
        (existing ?? index.GetOrAdd(key)).Put(at, created, version);
    }

    [Benchmark(OperationsPerInvoke = Probes)]
    public long PutRandomKey()
    {
        for (var i = 0; i < Probes; i++) Put(probes[(next + i) & (Probes - 1)]);
        next += 7;
        return revision;
    }

    [Benchmark(OperationsPerInvoke = Probes)]
    public int FindRandomKey()
    {
        var found = 0;
        for (var i = 0; i < Probes; i++)
        {
            if (index.Find(probes[(next + i) & (Probes - 1)]) is { } keyIndex && keyIndex.TryGet(long.MaxValue, out _, out _, out _)) found++;
        }
        next += 7;
        return found;
    }
}
