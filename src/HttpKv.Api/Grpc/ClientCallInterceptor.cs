using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Protocol;
using HttpKv.Server;
using HttpKv.Server.Auth;

namespace HttpKv.Api.Grpc;

/// <summary>What every gRPC call goes through, in the order of etcd's interceptors: for calls of etcd's client
/// services (etcdserverpb, v3lockpb, v3electionpb), the learner check (<see cref="LearnerRequests"/>: a learner serves
/// only Status, serializable Range and the Snapshot stream) and then the <see cref="Authorizer"/> for unary and
/// server-streaming calls (bidirectional streams check per message: the Watch service checks each create request;
/// lease keep-alives need no permission in etcd); for every call, an etcd error raised below becomes the status
/// etcd's clients expect. Member-to-member calls skip the checks.
///
/// One interceptor rather than three: each is an async frame and a pipeline step on every call, and the checks
/// complete synchronously on the common path (member ready, not a learner, auth off).</summary>
public sealed class ClientCallInterceptor(MemberHost host, Authorizer authorizer) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            if (ClientCalls.IsClientCall(context.Method))
            {
                await LearnerRequests.CheckAsync(host, request);
                RequestCaller.Current = await AuthorizeAsync(request, context); // set here, so that it flows into the call
            }
            return await continuation(request, context);
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
            if (ClientCalls.IsClientCall(context.Method))
            {
                await CheckStreamAsync(context);
                RequestCaller.Current = await AuthorizeAsync(request, context);
            }
            await continuation(request, responseStream, context);
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
            if (ClientCalls.IsClientCall(context.Method)) await CheckStreamAsync(context);
            await continuation(requestStream, responseStream, context);
        }
        catch (EtcdException exception)
        {
            throw ToRpcException(exception.Error);
        }
    }

    public static RpcException ToRpcException(EtcdError error) => new(new Status(error.Code, error.Message));

    /// <summary>A stream other than Snapshot is refused on a learner.</summary>
    private ValueTask CheckStreamAsync(ServerCallContext context) =>
        context.Method == LearnerRequests.SnapshotMethod ? ValueTask.CompletedTask : LearnerRequests.CheckAsync(host, null);

    private ValueTask<AuthInfo?> AuthorizeAsync<TRequest>(TRequest request, ServerCallContext context) =>
        request is IMessage message ? authorizer.AuthorizeAsync(message, CallerCredentials.FromGrpc(context)) : ValueTask.FromResult<AuthInfo?>(null);
}
