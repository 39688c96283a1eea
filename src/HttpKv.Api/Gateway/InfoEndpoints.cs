using System.Text.Json.Serialization;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's plain HTTP endpoint <c>GET /version</c> (clients read it to choose the API path); the probes are in HealthEndpoints.</summary>
public static class InfoEndpoints
{
    public sealed record VersionInfo(
        [property: JsonPropertyName("etcdserver")] string EtcdServer,
        [property: JsonPropertyName("etcdcluster")] string EtcdCluster);

    public static IEndpointRouteBuilder MapInfoEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/version", () => TypedResults.Ok(new VersionInfo(EtcdVersion.Server, EtcdVersion.Cluster)))
            .WithTags("Info").WithSummary("The etcd server and cluster versions this member speaks.");
        return app;
    }
}
