using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Protocol;

namespace HttpKv.Api.Grpc;

/// <summary>Turns an etcd error raised anywhere below a gRPC service into the status etcd's clients expect.</summary>
public sealed class EtcdExceptionInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (EtcdException exception)
        {
            throw ToRpcException(exception.Error);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (EtcdException exception)
        {
            throw ToRpcException(exception.Error);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (EtcdException exception)
        {
            throw ToRpcException(exception.Error);
        }
    }

    public static RpcException ToRpcException(EtcdError error) => new(new Status(error.Code, error.Message));
}
