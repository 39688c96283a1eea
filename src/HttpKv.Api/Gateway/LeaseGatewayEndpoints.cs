using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server;
using HttpKv.Server.Leases;
using Microsoft.Extensions.DependencyInjection;
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
        if (!await GatewayEndpoint.AdmittedStreamAsync(context, null)) return; // keep-alives need no permission in etcd
        if (await GatewayEndpoint.ReadStreamRequestAsync(context, body => GatewayJson.ReadRequests<LeaseKeepAliveRequest>(body.Span)) is not { } requests) return;
        if (requests.Count == 0) requests.Add(new LeaseKeepAliveRequest());
        GatewayEndpoint.StartAnswer(context.Response);
        var client = context.RequestAborted;
        var leaderAsked = RequireLeader.IsAsked(context, gateway: true);
        var member = await context.RequestServices.GetRequiredService<MemberHost>().Ready;
        using var noLeader = RequireLeader.Link(member, leaderAsked, client, out var aborted);
        if (await GatewayEndpoint.RefusedWithoutLeaderAsync(context, member, leaderAsked)) return;
        foreach (var request in requests)
        {
            LeaseKeepAliveResponse response;
            try
            {
                response = await service.KeepAliveAsync(request, forwarded: false, aborted);
            }
            catch (EtcdException exception)
            {
                await GatewayEndpoint.WriteStreamErrorAsync(context, exception.Error);
                return;
            }
            catch (OperationCanceledException) when (RequireLeader.EndedForNoLeader(noLeader, client))
            {
                await GatewayEndpoint.WriteStreamErrorAsync(context, EtcdErrors.NoLeader);
                return;
            }
            await GatewayEndpoint.WriteResultLineAsync(context, response, client);
        }
    }
}
