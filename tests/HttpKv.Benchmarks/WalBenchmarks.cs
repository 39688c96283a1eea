using BenchmarkDotNet.Attributes;
using HttpKv.Storage.Wal;
using HttpKv.Raft;

namespace HttpKv.Benchmarks;

/// <summary>WAL record encoding: what the WAL writer does for each batch before its one write and fdatasync
/// (WriteAheadLog.EncodeBatch: entry records, then the hard state, into one pooled buffer).</summary>
[MemoryDiagnoser]
public class WalBenchmarks
{
    private IReadOnlyList<Entry> entries = [];
    private byte[] buffer = [];

    [Params(1, 64)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var data = Data.Value(1).ToByteArray();
        entries = Enumerable.Range(1, Entries).Select(i => new Entry(3, (ulong)i, EntryType.Normal, data)).ToList();
        buffer = new byte[Entries * (int)WalRecordFormat.EntryRecordBytes(entries[0]) + WalRecordFormat.HardStateRecordBytes];
    }

    [Benchmark]
    public int EncodeBatch()
    {
        var length = 0;
        for (var position = 0; position < entries.Count; position++)
        {
            length += WalRecordFormat.WriteEntry(buffer.AsSpan(length), entries[position]);
        }
        length += WalRecordFormat.WriteHardState(buffer.AsSpan(length), new HardState(3, 1, (ulong)entries.Count));
        return length;
    }
}
