using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Server;
using HttpKv.Server.Auth;

namespace HttpKv.Api.Grpc;

/// <summary>What every gRPC call of etcd's client services (etcdserverpb, v3lockpb, v3electionpb) goes through, in
/// the order of etcd's interceptors: the learner check (<see cref="LearnerRequests"/>: a learner serves only Status,
/// serializable Range and the Snapshot stream) and then the <see cref="Authorizer"/> for unary and server-streaming
/// calls (bidirectional streams check per message: the Watch service checks each create request; lease keep-alives
/// need no permission in etcd), with etcd's <c>hasleader</c> check between the two (<see cref="RequireLeader"/>). A
/// unary call goes through the admission every door shares; the caller it admits is recorded for the service binding
/// (<see cref="AdmittedCaller"/>), which passes it to the core.
/// Member-to-member calls skip the checks. An etcd error raised anywhere below is a
/// gRPC status error already (<see cref="HttpKv.Protocol.EtcdException"/>), so nothing here maps errors.
///
/// One interceptor rather than three, and no async frame of its own when the checks complete synchronously (member
/// ready, not a learner, auth off or a cached token): a unary call then costs the continuation's task and nothing
/// more.</summary>
public sealed class ClientCallInterceptor(MemberHost host, Authorizer authorizer) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (!ClientCalls.IsClientCall(context.Method)) return continuation(request, context);
        CountRequest(context, stream: false);
        var checks = CheckAsync(request, context);
        if (!checks.IsCompletedSuccessfully) return CheckedAsync(checks, request, context, continuation);
        AdmittedCaller.Set(context.GetHttpContext(), checks.Result);
        return continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (ClientCalls.IsClientCall(context.Method))
        {
            CountRequest(context, stream: true);
            await CheckStreamAsync(context);
            AdmittedCaller.Set(context.GetHttpContext(), await AuthorizeAsync(request, context));
        }
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (ClientCalls.IsClientCall(context.Method))
        {
            CountRequest(context, stream: true);
            await CheckStreamAsync(context);
        }
        await continuation(requestStream, responseStream, context);
    }

    /// <summary>etcd_server_client_requests_total, by the <c>client-api-version</c> metadata etcd's clients send.</summary>
    private static void CountRequest(ServerCallContext context, bool stream)
    {
        var version = context.GetHttpContext().Request.Headers["client-api-version"];
        Server.Metrics.ServerMetrics.CountClientRequest(stream, version.Count > 0 ? version[0] : null);
    }

    /// <summary>The unary admission every door shares (<see cref="CallerCredentials.AdmitAsync{TSource}"/>).</summary>
    private ValueTask<AuthInfo?> CheckAsync<TRequest>(TRequest request, ServerCallContext context) =>
        CallerCredentials.AdmitAsync(host, authorizer, request as IMessage, RequireLeader.IsAsked(context.GetHttpContext(), gateway: false),
            context, static call => CallerCredentials.FromGrpc(call));

    /// <summary>A call with etcd's <c>hasleader</c> metadata is refused while this member knows no leader (once the
    /// member serves: before, the call waits for it as any other).</summary>
    private void CheckHasLeader(ServerCallContext context)
    {
        if (host.Ready.IsCompletedSuccessfully && RequireLeader.IsAsked(context.GetHttpContext(), gateway: false)) host.Ready.Result.CheckHasLeader();
    }

    private static async Task<TResponse> CheckedAsync<TRequest, TResponse>(ValueTask<AuthInfo?> checks, TRequest request,
        ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) where TRequest : class where TResponse : class
    {
        AdmittedCaller.Set(context.GetHttpContext(), await checks);
        return await continuation(request, context);
    }

    /// <summary>A stream other than Snapshot is refused on a learner.</summary>
    private async ValueTask CheckStreamAsync(ServerCallContext context)
    {
        if (context.Method != LearnerRequests.SnapshotMethod) await LearnerRequests.CheckAsync(host, null);
        CheckHasLeader(context);
    }

    private ValueTask<AuthInfo?> AuthorizeAsync<TRequest>(TRequest request, ServerCallContext context) =>
        request is IMessage message ? authorizer.AuthorizeAsync(message, context, static call => CallerCredentials.FromGrpc(call)) : ValueTask.FromResult<AuthInfo?>(null);
}
