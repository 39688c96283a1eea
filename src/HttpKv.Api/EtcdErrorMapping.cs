using Grpc.Core;
using HttpKv.Protocol;

namespace HttpKv.Api;

/// <summary>The one table from a gRPC status code to the HTTP status of etcd's JSON gateway
/// (grpc-gateway's mapping, which etcd 3.5 serves).</summary>
public static class EtcdErrorMapping
{
    public static int HttpStatus(EtcdError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.HttpStatus ?? HttpStatus(error.Code);
    }

    public static int HttpStatus(StatusCode code) => EtcdErrors.GatewayHttpStatus(code);
}
