using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Server;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's learner check, first among its interceptors: on a learner, client calls other than Status,
/// serializable Range and the Snapshot stream fail with "etcdserver: rpc not supported for learner"
/// (<see cref="LearnerRequests"/>). Member-to-member calls pass.</summary>
public sealed class LearnerInterceptor(MemberHost host) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (ClientCalls.IsClientCall(context.Method)) await LearnerRequests.CheckAsync(host, request);
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await CheckStreamAsync(context);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await CheckStreamAsync(context);
        await continuation(requestStream, responseStream, context);
    }

    private async ValueTask CheckStreamAsync(ServerCallContext context)
    {
        if (ClientCalls.IsClientCall(context.Method) && context.Method != LearnerRequests.SnapshotMethod) await LearnerRequests.CheckAsync(host, null);
    }
}
