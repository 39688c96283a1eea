using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Server;
using HttpKv.Server.Auth;
using HttpKv.Server.Watch;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace HttpKv.Api;

/// <summary>Reads who a request says it is, the same way for both doors: a token (gRPC metadata <c>token</c>, else
/// <c>authorization</c>; HTTP <c>Authorization</c>, else grpc-gateway's <c>Grpc-Metadata-Token</c>), and the common name
/// of the client certificate the TLS handshake verified.</summary>
public static class CallerCredentials
{
    public static Credentials FromHttp(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Request.Headers;
        var token = First(headers.Authorization) ?? First(headers["Grpc-Metadata-Token"]);
        return new Credentials(Credentials.TokenFrom(token), CommonName(context));
    }

    public static Credentials FromGrpc(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The HTTP/2 headers themselves: ServerCallContext.RequestHeaders would copy every header into gRPC metadata.
        var http = context.GetHttpContext();
        var headers = http.Request.Headers;
        var token = First(headers["token"]) ?? First(headers.Authorization);
        return new Credentials(Credentials.TokenFrom(token), CommonName(http));
    }

    /// <summary>A header's first value (LINQ's FirstOrDefault would box the StringValues).</summary>
    private static string? First(StringValues values) => values.Count > 0 ? values[0] : null;

    private static string? CommonName(HttpContext context) =>
        context.Connection.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, forIssuer: false) is { Length: > 0 } name ? name : null;

    /// <summary>Identifies the caller and checks the request with the one <see cref="Authorizer"/>; returns the caller.</summary>
    public static ValueTask<AuthInfo?> AuthorizeAsync(this HttpContext context, IMessage request) =>
        context.RequestServices.GetRequiredService<Authorizer>().AuthorizeAsync(request, context, static http => FromHttp(http));

    /// <summary>The admission of a unary HTTP call (the /v3 routes, the REST API), as <c>ClientCallInterceptor</c> admits a
    /// gRPC one: the learner check, etcd's <c>hasleader</c> check when the client asked for it (the gateway's
    /// <c>Grpc-Metadata-Hasleader</c>), then the caller's identity and permission. Returns the caller, which the door
    /// passes to the call (a write's proposal records its auth revision).</summary>
    public static ValueTask<AuthInfo?> AdmitAsync(this HttpContext context, IMessage request) =>
        AdmitAsync(context.RequestServices.GetRequiredService<MemberHost>(), context.RequestServices.GetRequiredService<Authorizer>(),
            request, RequireLeader.IsAsked(context, gateway: true), context, static http => FromHttp(http));

    /// <summary>The one admission of a unary client call, whichever door it came in by (<c>ClientCallInterceptor</c>
    /// for gRPC, the overload above for HTTP), in etcd's order: the learner check, etcd's <c>hasleader</c> check when
    /// the client asked for it, then the caller's identity (its credentials read from <paramref name="source"/> only
    /// while auth is on) and permission. Returns the caller. Completes synchronously, allocating nothing, on the
    /// common path (member ready, not a learner, auth off or a cached token).</summary>
    public static async ValueTask<AuthInfo?> AdmitAsync<TSource>(MemberHost host, Authorizer authorizer, IMessage? request, bool leaderAsked,
        TSource source, Func<TSource, Credentials> credentialsOf)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(authorizer);
        await LearnerRequests.CheckAsync(host, request);
        if (leaderAsked) (await host.Ready).CheckHasLeader();
        return request is null ? null : await authorizer.AuthorizeAsync(request, source, credentialsOf);
    }

    /// <summary>The admission of a stream on an HTTP door (the /v3 streams, the SSE watches): the learner check (of the
    /// streams, a learner serves Snapshot only), then for a stream of one request its caller's identity and permission;
    /// a stream of many requests (null here: watch, keep-alive) has its requests checked one by one as they come.
    /// Returns the caller. etcd's <c>hasleader</c> is not checked here: the watch and keep-alive streams check it
    /// themselves once their answer has started (their refusal is etcd's stream error object); observe and snapshot do
    /// not check it on this door, where <c>ClientCallInterceptor</c> refuses them over gRPC.</summary>
    public static async ValueTask<AuthInfo?> AdmitStreamAsync(this HttpContext context, IMessage? request)
    {
        if (request is not Etcdserverpb.SnapshotRequest) await LearnerRequests.CheckAsync(context.RequestServices.GetRequiredService<MemberHost>(), null);
        return request is null ? null : await context.AuthorizeAsync(request);
    }

    /// <summary>A watch stream whose every create request the <see cref="Authorizer"/> checks for this caller.</summary>
    public static WatchSession NewWatchSession(Member member, Authorizer authorizer, Credentials credentials) =>
        new(member) { Authorize = async create => await authorizer.AuthorizeAsync(create, credentials) };
}
