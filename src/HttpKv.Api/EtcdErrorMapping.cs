using System.Net;
using Grpc.Core;

namespace HttpKv.Api;

/// <summary>The one table from a gRPC status code to the HTTP status of etcd's JSON gateway
/// (grpc-gateway's mapping, which etcd 3.5 serves).</summary>
public static class EtcdErrorMapping
{
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.OK => (int)HttpStatusCode.OK,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => (int)HttpStatusCode.BadRequest,
        StatusCode.DeadlineExceeded => (int)HttpStatusCode.GatewayTimeout,
        StatusCode.NotFound => (int)HttpStatusCode.NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => (int)HttpStatusCode.Conflict,
        StatusCode.PermissionDenied => (int)HttpStatusCode.Forbidden,
        StatusCode.Unauthenticated => (int)HttpStatusCode.Unauthorized,
        StatusCode.ResourceExhausted => (int)HttpStatusCode.TooManyRequests,
        StatusCode.Unimplemented => (int)HttpStatusCode.NotImplemented,
        StatusCode.Unavailable => (int)HttpStatusCode.ServiceUnavailable,
        _ => (int)HttpStatusCode.InternalServerError,
    };
}
