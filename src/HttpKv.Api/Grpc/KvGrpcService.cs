using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.KV</c> service over gRPC, calling the same KV service the JSON routes call.</summary>
public sealed class KvGrpcService(IKvService kv) : KV.KVBase
{
    public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context) =>
        kv.RangeAsync(request, Aborted(context));

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) =>
        kv.PutAsync(request, AdmittedCaller.Of(context), Aborted(context));

    public override Task<DeleteRangeResponse> DeleteRange(DeleteRangeRequest request, ServerCallContext context) =>
        kv.DeleteRangeAsync(request, AdmittedCaller.Of(context), Aborted(context));

    public override Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context) =>
        kv.TxnAsync(request, AdmittedCaller.Of(context), Aborted(context));

    public override Task<CompactionResponse> Compact(CompactionRequest request, ServerCallContext context) =>
        kv.CompactAsync(request, Aborted(context));

    /// <summary>The token a KV call's wait observes: the HTTP request's own abort, which Kestrel raises when the client
    /// cancels, as a gRPC client does at its deadline (<see cref="GrpcCallBinding"/> takes the deadline header off, so
    /// the server arms no deadline of its own). Kestrel's token is reused from request to request, where
    /// <see cref="ServerCallContext.CancellationToken"/> is a token source and a registration per call whenever
    /// Grpc.AspNetCore manages a deadline (two objects a put, ~90 bytes).</summary>
    private static CancellationToken Aborted(ServerCallContext context) => context.GetHttpContext().RequestAborted;
}
