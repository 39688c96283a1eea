// grpc-floor --port N: what one etcd KV call costs the server when the server does no work.
// It answers Range with one fixed 8-byte key and 256-byte value (what gobench's range expects) and Put and Txn with a
// header, so gobench's CPU per operation against it is the share of HttpKv's that belongs to Kestrel's HTTP/2,
// Grpc.AspNetCore, the runtime and the kernel. No logging, no middleware, no routing beyond gRPC's own.
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var port = args.Length >= 2 && args[0] == "--port" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2379;
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
    kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2);
});
builder.Services.AddGrpc();
builder.Services.AddSingleton<FloorKv>();
var app = builder.Build();
app.MapGrpcService<FloorKv>();
app.Run();

/// <summary>etcd's KV service with fixed answers.</summary>
internal sealed class FloorKv : KV.KVBase
{
    private static readonly ResponseHeader Header = new() { ClusterId = 1, MemberId = 2, Revision = 3, RaftTerm = 4 };
    private static readonly Task<RangeResponse> OneKey = Task.FromResult(new RangeResponse
    {
        Header = Header,
        Count = 1,
        Kvs = { new Mvccpb.KeyValue { Key = ByteString.CopyFromUtf8("00000000"), Value = ByteString.CopyFrom(new byte[256]), CreateRevision = 2, ModRevision = 2, Version = 1 } },
    });
    private static readonly Task<PutResponse> Written = Task.FromResult(new PutResponse { Header = Header });
    private static readonly Task<TxnResponse> Committed = Task.FromResult(new TxnResponse { Header = Header, Succeeded = true });

    public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context) => OneKey;

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) => Written;

    public override Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context) => Committed;
}
