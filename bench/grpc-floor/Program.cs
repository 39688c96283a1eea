// grpc-floor --port N [--raw]: what one etcd KV call costs the server when the server does no work.
// It answers Range with one fixed 8-byte key and 256-byte value (what gobench's range expects) and Put and Txn with a
// header, so gobench's CPU per operation against it is the share of HttpKv's that belongs to Kestrel's HTTP/2,
// Grpc.AspNetCore, the runtime and the kernel. No logging, no middleware, no routing beyond gRPC's own.
// --raw answers the same calls without Grpc.AspNetCore: a route per method reads the framed request off Kestrel's
// HTTP/2 stream, parses it and writes the framed answer and the grpc-status trailer itself, so the difference between
// the two modes is what Grpc.AspNetCore's call handling costs on top of Kestrel.
using System.Buffers;
using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var port = args.Length >= 2 && args[0] == "--port" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2379;
var raw = args.Contains("--raw");
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
    kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2);
});
if (!raw) builder.Services.AddGrpc();
builder.Services.AddSingleton<FloorKv>();
var app = builder.Build();
if (raw)
{
    app.MapPost("/etcdserverpb.KV/Range", context => RawCall.Answer(context, RangeRequest.Parser, FloorKv.OneKey.Result));
    app.MapPost("/etcdserverpb.KV/Put", context => RawCall.Answer(context, PutRequest.Parser, FloorKv.Written.Result));
    app.MapPost("/etcdserverpb.KV/Txn", context => RawCall.Answer(context, TxnRequest.Parser, FloorKv.Committed.Result));
}
else
{
    app.MapGrpcService<FloorKv>();
}
app.Run();

/// <summary>etcd's KV service with fixed answers.</summary>
internal sealed class FloorKv : KV.KVBase
{
    private static readonly ResponseHeader Header = new() { ClusterId = 1, MemberId = 2, Revision = 3, RaftTerm = 4 };
    internal static readonly Task<RangeResponse> OneKey = Task.FromResult(new RangeResponse
    {
        Header = Header,
        Count = 1,
        Kvs = { new Mvccpb.KeyValue { Key = ByteString.CopyFromUtf8("00000000"), Value = ByteString.CopyFrom(new byte[256]), CreateRevision = 2, ModRevision = 2, Version = 1 } },
    });
    internal static readonly Task<PutResponse> Written = Task.FromResult(new PutResponse { Header = Header });
    internal static readonly Task<TxnResponse> Committed = Task.FromResult(new TxnResponse { Header = Header, Succeeded = true });

    public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context) => OneKey;

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) => Written;

    public override Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context) => Committed;
}

/// <summary>A unary gRPC call answered on Kestrel's request directly: one length-prefixed message in, one out, and
/// <c>grpc-status: 0</c> as a trailer.</summary>
internal static class RawCall
{
    public static async Task Answer<TRequest>(HttpContext context, MessageParser<TRequest> parser, IMessage answer) where TRequest : IMessage<TRequest>
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync();
            var buffer = read.Buffer;
            if (TryParse(buffer, parser, out var consumed))
            {
                reader.AdvanceTo(consumed);
                break;
            }
            if (read.IsCompleted)
            {
                context.Response.StatusCode = 400;
                return;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
        context.Response.ContentType = "application/grpc";
        var size = answer.CalculateSize();
        var output = context.Response.BodyWriter;
        var span = output.GetSpan(5 + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        answer.WriteTo(span.Slice(5, size));
        output.Advance(5 + size);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    private static bool TryParse<TRequest>(ReadOnlySequence<byte> buffer, MessageParser<TRequest> parser, out SequencePosition consumed)
        where TRequest : IMessage<TRequest>
    {
        consumed = buffer.Start;
        if (buffer.Length < 5) return false;
        Span<byte> prefix = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(prefix);
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (buffer.Length < 5 + length) return false;
        var message = buffer.Slice(5, length);
        parser.ParseFrom(message);
        consumed = message.End;
        return true;
    }
}
