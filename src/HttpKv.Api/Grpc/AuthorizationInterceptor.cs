using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Server.Auth;

namespace HttpKv.Api.Grpc;

/// <summary>Puts every unary and server-streaming call of etcd's client services (etcdserverpb, v3lockpb,
/// v3electionpb) before the <see cref="Authorizer"/>. Bidirectional streams check per message: the Watch service
/// checks each create request; lease keep-alives need no permission in etcd. Member-to-member calls are not
/// client calls and pass.</summary>
public sealed class AuthorizationInterceptor(Authorizer authorizer) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        RequestCaller.Current = await AuthorizeAsync(request, context); // set here, so that it flows into the call
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        RequestCaller.Current = await AuthorizeAsync(request, context);
        await continuation(request, responseStream, context);
    }

    private ValueTask<AuthInfo?> AuthorizeAsync<TRequest>(TRequest request, ServerCallContext context) =>
        ClientCalls.IsClientCall(context.Method) && request is IMessage message
            ? authorizer.AuthorizeAsync(message, CallerCredentials.FromGrpc(context))
            : ValueTask.FromResult<AuthInfo?>(null);
}
