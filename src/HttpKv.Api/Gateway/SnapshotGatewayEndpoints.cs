using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server.Maintenance;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway route for Maintenance.Snapshot: /maintenance/snapshot, a server stream.</summary>
public static class SnapshotGatewayEndpoints
{
    public static RouteGroupBuilder MapSnapshotGateway(this RouteGroupBuilder group)
    {
        group.MapPost("/maintenance/snapshot", (HttpContext context, ISnapshotService service) => SnapshotAsync(context, service))
            .WithTags("Maintenance")
            .WithMetadata(new GatewayContract(SnapshotRequest.Descriptor, SnapshotResponse.Descriptor, Streaming: true))
            .WithSummary("Streams a consistent copy of the member's backend: newline-delimited {\"result\": SnapshotResponse} chunks, then the SHA-256.")
            .WithDescription("etcd's `Snapshot` stream as JSON: blobs (base64) of up to 32 KiB with `remaining_bytes` counting down to 0, then a last " +
                             "message whose blob is the SHA-256 of all the bytes before it. Concatenating every blob gives the file `etcdctl snapshot save` writes. " +
                             "Needs the root role once auth is enabled.");
        return group;
    }

    /// <summary>As etcd's gateway serves a server stream: each response on its own line, flushed at once. A learner
    /// serves it (etcd allows Snapshot on learners).</summary>
    private static async Task SnapshotAsync(HttpContext context, ISnapshotService service)
    {
        if (await GatewayEndpoint.ReadStreamRequestAsync(context, body => GatewayJson.ReadRequest<SnapshotRequest>(body.Span)) is not { } request) return;
        if (!await GatewayEndpoint.AdmittedStreamAsync(context, request)) return;
        await using var responses = service.SnapshotAsync(request, context.RequestAborted).GetAsyncEnumerator(context.RequestAborted);
        try
        {
            // The first message (the copy is made before it) decides the status: an error before it gets the gateway's HTTP status.
            if (!await responses.MoveNextAsync()) return;
        }
        catch (EtcdException refused)
        {
            await GatewayEndpoint.WriteErrorAsync(context, refused.Error);
            return;
        }
        GatewayEndpoint.StartAnswer(context.Response);
        try
        {
            do
            {
                await GatewayEndpoint.WriteResultLineAsync(context, responses.Current, context.RequestAborted);
            }
            while (await responses.MoveNextAsync());
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }
}
