using System.Text.Json.Serialization;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's plain HTTP endpoints: <c>GET /version</c> (clients read it to choose the API path) and <c>GET /health</c>.</summary>
public static class InfoEndpoints
{

    public sealed record VersionInfo(
        [property: JsonPropertyName("etcdserver")] string EtcdServer,
        [property: JsonPropertyName("etcdcluster")] string EtcdCluster);

    public sealed record HealthInfo(
        [property: JsonPropertyName("health")] string Health,
        [property: JsonPropertyName("reason")] string Reason);

    public static IEndpointRouteBuilder MapInfoEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/version", () => TypedResults.Ok(new VersionInfo(EtcdVersion.Server, EtcdVersion.Cluster)))
            .WithTags("Info").WithSummary("The etcd server and cluster versions this member speaks.");
        app.MapGet("/health", GetHealthAsync)
            .WithTags("Info").WithSummary("Healthy when the member can serve a read (linearizable unless serializable=true).");
        return app;
    }

    private static async Task<Results<Ok<HealthInfo>, JsonHttpResult<HealthInfo>>> GetHealthAsync(
        IKvService kv, bool? serializable, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("health"), Serializable = serializable == true, CountOnly = true }, timeout.Token);
            return TypedResults.Ok(new HealthInfo("true", ""));
        }
        catch (Exception exception) when (exception is EtcdException or OperationCanceledException)
        {
            return TypedResults.Json(new HealthInfo("false", exception.Message), statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
