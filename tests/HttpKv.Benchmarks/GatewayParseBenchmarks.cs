using BenchmarkDotNet.Attributes;
using Etcdserverpb;
using HttpKv.Api.Gateway;

namespace HttpKv.Benchmarks;

/// <summary>The gateway's parse of a /v3/kv/put and a /v3/kv/range body into the request message.</summary>
[MemoryDiagnoser]
public class GatewayParseBenchmarks
{
    private byte[] putBody = [];
    private byte[] rangeBody = [];

    [GlobalSetup]
    public void Setup()
    {
        putBody = Data.Utf8($$"""{"key":"{{Data.Key(1).ToBase64()}}","value":"{{Data.Value(1).ToBase64()}}","lease":"7587869125946210314"}""");
        rangeBody = Data.Utf8($$"""{"key":"{{Data.Key(1).ToBase64()}}","range_end":"{{Data.Key(100).ToBase64()}}","limit":"100"}""");
    }

    [Benchmark]
    public PutRequest ParsePut() => GatewayJson.ReadRequest<PutRequest>(putBody);

    [Benchmark]
    public RangeRequest ParseRange() => GatewayJson.ReadRequest<RangeRequest>(rangeBody);
}
