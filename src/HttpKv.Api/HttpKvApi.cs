using HttpKv.Api.Gateway;
using HttpKv.Api.Grpc;
using HttpKv.Api.Health;
using HttpKv.Api.Metrics;
using HttpKv.Api.OpenApi;
using HttpKv.Server;
using HttpKv.Server.Peers;
using Grpc.AspNetCore.Server;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace HttpKv.Api;

/// <summary>Registers and maps every interface of a member on one port: etcd's gRPC services, the /v3 JSON
/// gateway (with etcd's /v3beta and /v3alpha aliases), /version, /health, /livez, /readyz, /metrics, the OpenAPI document
/// and Swagger UI; request logs and HTTP and gRPC metrics around them all.</summary>
public static class HttpKvApi
{
    /// <summary>etcd lets a gRPC message exceed --max-request-bytes by this much framing before the server
    /// itself answers "request is too large".</summary>
    public const int GrpcOverheadBytes = 512 * 1024;

    public static readonly string[] GatewayPrefixes = ["/v3", "/v3beta", "/v3alpha"];

    public static IServiceCollection AddHttpKvApi(this IServiceCollection services)
    {
        MetricsEndpoints.ConfigureDefaults();
        services.AddSingleton<MemberMetrics>();
        services.TryAddSingleton<IActiveAlarms, MemberAlarms>();
        // The services and the interceptor hold no per-call state: one instance each, rather than one built per call
        // (Grpc.AspNetCore activates what is not registered, and the interceptor, for every call).
        services.AddSingleton<ClientCallInterceptor>();
        services.AddSingleton<KvGrpcService>();
        services.AddSingleton<ClusterGrpcService>();
        services.AddSingleton<MaintenanceGrpcService>();
        services.AddSingleton<WatchGrpcService>();
        services.AddSingleton<LeaseGrpcService>();
        services.AddSingleton<LockGrpcService>();
        services.AddSingleton<ElectionGrpcService>();
        services.AddSingleton<AuthGrpcService>();
        services.AddSingleton<RaftPeerService>();
        services.AddGrpc(options =>
        {
            options.Interceptors.Add<ClientCallInterceptor>();
            options.MaxSendMessageSize = null;
        });
        // Every service bound by HttpKv's provider: the same endpoints, with etcd's message and byte counters.
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(MeteredServiceMethodProvider<>)));
        services.AddOptions<GrpcServiceOptions>().Configure<MemberHost>((options, host) =>
            options.MaxReceiveMessageSize = host.Options.MaxRequestBytes + GrpcOverheadBytes);
        services.AddOpenApi(options => options.AddGatewaySchemas());
        return services;
    }

    public static WebApplication MapHttpKvApi(this WebApplication app)
    {
        MetricsEndpoints.UseMetricsListenerGuard(app);
        GrpcCallBinding.Use(app);
        Gateway.CorsHeaders.Use(app);
        // Routing explicitly here, so the request logs and metrics know the endpoint (route template, gRPC method).
        app.UseRouting();
        RequestLog.Use(app);
        StreamsEndOnStop.Use(app);
        app.MapGrpcService<KvGrpcService>();
        app.MapGrpcService<ClusterGrpcService>();
        app.MapGrpcService<MaintenanceGrpcService>();
        app.MapGrpcService<WatchGrpcService>();
        app.MapGrpcService<LeaseGrpcService>();
        app.MapGrpcService<LockGrpcService>();
        app.MapGrpcService<ElectionGrpcService>();
        app.MapGrpcService<AuthGrpcService>();
        var options = app.Services.GetRequiredService<MemberHost>().Options;
        var peerHosts = MemberOptions.SplitUrls(options.ListenPeerUrls)
            .Select(url => new Uri(url)).Select(uri => $"*:{uri.Port}").ToArray();
        app.MapGrpcService<RaftPeerService>().RequireHost(peerHosts);
        foreach (var prefix in options.EnableGrpcGateway ? GatewayPrefixes : [])
        {
            var group = app.MapGroup(prefix).MapKvGateway().MapClusterGateway().MapSnapshotGateway().MapWatchGateway().MapLeaseGateway().MapConcurrencyGateway().MapAuthGateway();
            if (prefix != "/v3") group.ExcludeFromDescription();
        }
        app.MapInfoEndpoints();
        app.MapHealthEndpoints();
        app.MapMetricsEndpoint();
        Rest.KeysEndpoints.MapKeysApi(app);
        Rest.MembersEndpoints.MapMembersApi(app);
        Dashboard.DashboardEndpoints.MapDashboard(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        // Only /swagger requests go through Swagger UI's middleware: every other request (every gRPC call) would pay
        // for its async frame.
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/swagger", StringComparison.Ordinal), swagger =>
            swagger.UseSwaggerUI(options =>
            {
                options.RoutePrefix = "swagger";
                options.SwaggerEndpoint("/openapi/v1.json", "HttpKv v1");
                options.DocumentTitle = "HttpKv API";
            }));
        return app;
    }
}
