using Etcdserverpb;
using HttpKv.Server.Auth;

namespace HttpKv.Server;

/// <summary>etcd's KV service as every interface (gRPC, the /v3 JSON routes) calls it. Responses carry a full
/// header; failures are <see cref="HttpKv.Protocol.EtcdException"/> with etcd's text and code.
///
/// A write names its caller: the one the door admitted (<see cref="Authorizer"/>; null while auth is off). Its
/// proposal records the caller's auth revision, so that apply refuses the write if a user or role changed after the
/// door's check (<see cref="Apply.AuthRevisionGate"/>, etcd's request header).</summary>
public interface IKvService
{
    Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken);
    Task<PutResponse> PutAsync(PutRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<TxnResponse> TxnAsync(TxnRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<CompactionResponse> CompactAsync(CompactionRequest request, CancellationToken cancellationToken);
}
