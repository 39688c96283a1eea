using System.Buffers;
using BenchmarkDotNet.Attributes;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Api.Gateway;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Benchmarks;

/// <summary>A range of 100 or 10,000 keys (32-byte keys, 256-byte values) from a store on LMDB: the read alone, and
/// the read turned into the gRPC answer (RangeResponse serialized to a buffer) or the gateway's JSON body.</summary>
[MemoryDiagnoser]
public class RangeBenchmarks
{
    private const int StoredKeys = 10_000;
    private string directory = "";
    private MvccStore store = null!;
    private RangeRequest request = new();
    private readonly ArrayBufferWriter<byte> output = new(1 << 20);

    [Params(100, 10_000)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        directory = Data.TempDirectory();
        store = MvccStore.Open(Path.Combine(directory, "backend"), new MvccOptions { MapSizeBytes = 1L << 30 }, NullLogger.Instance);
        using (var batch = store.BeginApply())
        {
            for (var i = 0; i < StoredKeys; i++)
            {
                batch.Apply((ulong)i + 1, new LogRequest { Id = (ulong)i + 1, Put = new PutRequest { Key = Data.Key(i), Value = Data.Value(i) } });
            }
            batch.Commit();
        }
        request = new RangeRequest { Key = Data.Key(0), RangeEnd = Keys >= StoredKeys ? ByteString.CopyFrom(0) : Data.Key(Keys) };
        if (store.Range(request).Kvs.Count != Keys) throw new InvalidOperationException("the range does not hold the expected keys");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        store.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    [Benchmark]
    public int Range() => store.Range(request).Kvs.Count;

    [Benchmark]
    public int RangeToProtobuf()
    {
        output.ResetWrittenCount();
        store.Range(request).WriteTo(output);
        return output.WrittenCount;
    }

    [Benchmark]
    public int RangeToJson()
    {
        output.ResetWrittenCount();
        GatewayJson.WriteResponse(store.Range(request), output);
        return output.WrittenCount;
    }
}
