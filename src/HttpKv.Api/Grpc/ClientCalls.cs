namespace HttpKv.Api.Grpc;

/// <summary>Which gRPC methods are etcd's client services (etcdserverpb, v3lockpb, v3electionpb), as the interceptors
/// that gate client calls see them; member-to-member calls are not among them.</summary>
internal static class ClientCalls
{
    public static bool IsClientCall(string method) =>
        method.StartsWith("/etcdserverpb.", StringComparison.Ordinal)
        || method.StartsWith("/v3lockpb.", StringComparison.Ordinal)
        || method.StartsWith("/v3electionpb.", StringComparison.Ordinal);
}
