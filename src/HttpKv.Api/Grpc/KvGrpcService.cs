using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.KV</c> service over gRPC, calling the same KV service the JSON routes call.</summary>
public sealed class KvGrpcService(IKvService kv) : KV.KVBase
{
    public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context) =>
        kv.RangeAsync(request, context.CancellationToken);

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) =>
        kv.PutAsync(request, context.CancellationToken);

    public override Task<DeleteRangeResponse> DeleteRange(DeleteRangeRequest request, ServerCallContext context) =>
        kv.DeleteRangeAsync(request, context.CancellationToken);

    public override Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context) =>
        kv.TxnAsync(request, context.CancellationToken);

    public override Task<CompactionResponse> Compact(CompactionRequest request, ServerCallContext context) =>
        kv.CompactAsync(request, context.CancellationToken);
}
