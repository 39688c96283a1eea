using Etcdserverpb;

namespace HttpKv.Server;

/// <summary>etcd's KV service as every interface (gRPC, the /v3 JSON routes) calls it. Responses carry a full
/// header; failures are <see cref="HttpKv.Protocol.EtcdException"/> with etcd's text and code.</summary>
public interface IKvService
{
    Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken);
    Task<PutResponse> PutAsync(PutRequest request, CancellationToken cancellationToken);
    Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, CancellationToken cancellationToken);
    Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken);
    Task<CompactionResponse> CompactAsync(CompactionRequest request, CancellationToken cancellationToken);
}
