using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using HttpKv.Mvcc;
using Mvccpb;

namespace HttpKv.Benchmarks;

/// <summary>Key and revision encoding: the backend key of a revision, the stored KeyValue, and the key index lookup
/// every put and single-key range makes.</summary>
[MemoryDiagnoser]
public class KeyBenchmarks
{
    private readonly byte[] revisionKey = new byte[Revision.TombstoneEncodedLength];
    private readonly byte[] kvBuffer = new byte[1024];
    private KeyValue kv = new();
    private byte[] storedKv = [];
    private TreeIndex index = new();
    private ByteString probeKey = ByteString.Empty;

    [GlobalSetup]
    public void Setup()
    {
        kv = new KeyValue { Key = Data.Key(7), Value = Data.Value(7), CreateRevision = 12345, ModRevision = 67890, Version = 4 };
        storedKv = kv.ToByteArray();
        index = new TreeIndex();
        for (var i = 0; i < 10_000; i++) index.GetOrAdd(Data.Key(i).Memory).Put(new Revision(i + 2, 0), i + 2, 1);
        probeKey = Data.Key(5_000);
    }

    [Benchmark]
    public Revision RevisionRoundTrip()
    {
        new Revision(123456789, 3).Encode(revisionKey);
        return Revision.Decode(revisionKey.AsSpan(0, Revision.EncodedLength), out _);
    }

    /// <summary>The stored value of a put (BackendValues.Write without LMDB).</summary>
    [Benchmark]
    public int KeyValueEncode()
    {
        var size = kv.CalculateSize();
        kv.WriteTo(kvBuffer.AsSpan(0, size));
        return size;
    }

    /// <summary>What a range does per key it loads (BackendValues.Load without LMDB).</summary>
    [Benchmark]
    public KeyValue KeyValueDecode() => KeyValue.Parser.ParseFrom(storedKv.AsSpan());

    /// <summary>The key index lookup of a put or a single-key range, in an index of 10,000 keys.</summary>
    [Benchmark]
    public bool IndexFind() => index.Find(probeKey.Memory) is not null;
}
