using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server.Leases;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the Lease service: /lease/{grant,revoke,keepalive,timetolive,leases}, and the
/// /kv/lease/{revoke,timetolive,leases} aliases etcd's gateway also has.</summary>
public static class LeaseGatewayEndpoints
{
    public static RouteGroupBuilder MapLeaseGateway(this RouteGroupBuilder group)
    {
        var lease = group.MapGroup("/lease").WithTags("Lease");
        lease.MapUnary<ILeaseService, LeaseGrantRequest, LeaseGrantResponse>("/grant", service => service.GrantAsync,
            "LeaseGrant", "Creates a lease which expires if the server does not receive a keep-alive within its TTL.");
        lease.MapPost("/keepalive", (HttpContext context, ILeaseService service) => KeepAliveAsync(context, service))
            .WithMetadata(new GatewayContract(LeaseKeepAliveRequest.Descriptor, LeaseKeepAliveResponse.Descriptor, Streaming: true))
            .WithSummary("Keeps a lease alive: one or more requests in the body, one newline-delimited {\"result\": …} per request.")
            .WithDescription("etcd's `LeaseKeepAlive` stream as JSON: each request object in the body is answered, in order, by a line `{\"result\": LeaseKeepAliveResponse}` (TTL 0 for a lease that does not exist); an error ends the stream with `{\"error\": …}`.");
        foreach (var (prefix, tag) in new[] { ("/lease", "Lease"), ("/kv/lease", "Lease (etcd's /kv/lease aliases)") })
        {
            var routes = group.MapGroup(prefix).WithTags(tag);
            routes.MapUnary<ILeaseService, LeaseRevokeRequest, LeaseRevokeResponse>("/revoke", service => service.RevokeAsync,
                "LeaseRevoke", "Revokes a lease: every key attached to it is deleted.");
            routes.MapUnary<ILeaseService, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>("/timetolive",
                service => (request, cancellationToken) => service.TimeToLiveAsync(request, forwarded: false, cancellationToken),
                "LeaseTimeToLive", "A lease's remaining and granted TTL (TTL -1 if it does not exist), and its keys when asked.");
            routes.MapUnary<ILeaseService, LeaseLeasesRequest, LeaseLeasesResponse>("/leases", service => service.LeasesAsync,
                "LeaseLeases", "Lists every lease.");
        }
        return group;
    }

    /// <summary>The keep-alive stream as etcd's gateway serves it: the request body is a sequence of JSON objects;
    /// each is answered by one line, flushed at once.</summary>
    private static async Task KeepAliveAsync(HttpContext context, ILeaseService service)
    {
        if (await GatewayEndpoint.RefusedOnLearnerAsync(context)) return;
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        List<LeaseKeepAliveRequest> requests;
        try
        {
            requests = ReadAll(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
        catch (Exception exception) when (exception is InvalidProtocolBufferException or InvalidJsonException or FormatException or JsonException)
        {
            await GatewayEndpoint.WriteErrorAsync(context, new EtcdError("invalid JSON request body: " + exception.Message, StatusCode.InvalidArgument));
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        foreach (var request in requests)
        {
            string line;
            try
            {
                var response = await service.KeepAliveAsync(request, forwarded: false, context.RequestAborted);
                line = GatewayJson.ResultLine(response);
            }
            catch (EtcdException exception)
            {
                await context.Response.WriteAsync(StreamError(exception.Error), context.RequestAborted);
                return;
            }
            await context.Response.WriteAsync(line, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private static List<LeaseKeepAliveRequest> ReadAll(ReadOnlyMemory<byte> body)
    {
        var requests = new List<LeaseKeepAliveRequest>();
        var reader = new Utf8JsonReader(body.Span, new JsonReaderOptions { AllowMultipleValues = true });
        while (true)
        {
            var start = (int)reader.BytesConsumed;
            if (!reader.Read()) break;
            reader.Skip();
            requests.Add(GatewayJson.ReadRequest<LeaseKeepAliveRequest>(body.Span[start..(int)reader.BytesConsumed]));
        }
        if (requests.Count == 0) requests.Add(new LeaseKeepAliveRequest());
        return requests;
    }

    /// <summary>grpc-gateway v1's error object on a stream.</summary>
    private static string StreamError(EtcdError error)
    {
        var status = EtcdErrorMapping.HttpStatus(error);
        return "{\"error\":{\"grpc_code\":" + (int)error.Code + ",\"http_code\":" + status + ",\"message\":" + JsonSerializer.Serialize(error.Message)
            + ",\"http_status\":" + JsonSerializer.Serialize(ReasonPhrase(status)) + "}}\n";
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}
