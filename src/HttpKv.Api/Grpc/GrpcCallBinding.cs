using System.Collections.Frozen;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Api.Grpc;

/// <summary>The shortest way from a gRPC request of etcd's client services to its handler, put before routing:
/// <list type="bullet">
/// <item>the endpoint is found by its exact path (every gRPC method's route is a literal one), so routing skips its
/// matcher, which would otherwise also gather the route values of gRPC's catch-all "unimplemented" routes;</item>
/// <item>the call is given the application's services rather than a request scope: every service a gRPC call
/// resolves is a singleton (the services, the interceptor, the snapshot service), so a scope per call would
/// only be built and torn down;</item>
/// <item>the call's <c>grpc-timeout</c> is taken off, so Grpc.AspNetCore does not arm a timer of its own for it (a
/// timer, its holder and a deadline manager per call: ~320 bytes and ~4% of a put's CPU, since etcd's Go client gives
/// every call a deadline). The client enforces its deadline itself: at it, it cancels the call (RST_STREAM), which
/// aborts the request, and what waits on the request's abort (a proposal's waiter, a read index) gives up within a
/// tick; a client that vanishes without cancelling is bounded by the member's request timeout, as in etcd, whose
/// proposals wait at most that long. Member-to-member calls keep theirs.</item>
/// </list>
/// Anything else (another path, another method, a member-to-member call, whose routes carry host metadata) goes
/// through routing as usual, so what answers a request never changes, only how fast it is found.</summary>
internal static class GrpcCallBinding
{
    public static void Use(WebApplication app)
    {
        FrozenDictionary<string, Endpoint>? endpoints = null;
        var sources = ((IEndpointRouteBuilder)app).DataSources;
        var applicationServices = new ApplicationServices(app.Services);
        app.Use((context, next) =>
        {
            if (HttpMethods.IsPost(context.Request.Method) && IsGrpc(context.Request.ContentType))
                Bind(context, endpoints ??= ClientEndpoints(sources), applicationServices);
            return next(context);
        });
    }

    /// <summary>Binds a gRPC request to its client endpoint, when it is a call of etcd's client services.</summary>
    internal static bool Bind(HttpContext context, FrozenDictionary<string, Endpoint> endpoints, IServiceProvidersFeature services)
    {
        if (!endpoints.TryGetValue(context.Request.Path.Value ?? "", out var endpoint)) return false;
        context.SetEndpoint(endpoint);
        context.Features.Set(services);
        context.Request.Headers.Remove(DeadlineHeader);
        return true;
    }

    /// <summary>gRPC's deadline header (<c>grpc-timeout: 4999m</c>).</summary>
    internal const string DeadlineHeader = "grpc-timeout";

    /// <summary>A gRPC request, by its content type (<c>application/grpc</c>, <c>application/grpc+proto</c>, …).</summary>
    internal static bool IsGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>The gRPC methods of etcd's client services, by path; read once, after every route is mapped.</summary>
    private static FrozenDictionary<string, Endpoint> ClientEndpoints(IEnumerable<EndpointDataSource> sources) => sources
        .SelectMany(source => source.Endpoints)
        .OfType<RouteEndpoint>()
        .Where(endpoint => endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc
            && ClientCalls.IsClientCall(grpc.Method.FullName)
            && endpoint.Metadata.GetMetadata<IHostMetadata>() is null
            && endpoint.RoutePattern.RawText == grpc.Method.FullName) // a literal route: gRPC's catch-alls are not
        .ToFrozenDictionary(endpoint => endpoint.RoutePattern.RawText!, endpoint => (Endpoint)endpoint, StringComparer.Ordinal);

    internal sealed class ApplicationServices(IServiceProvider services) : IServiceProvidersFeature
    {
        public IServiceProvider RequestServices { get => services; set => throw new NotSupportedException("a gRPC call's services are the application's"); }
    }
}
