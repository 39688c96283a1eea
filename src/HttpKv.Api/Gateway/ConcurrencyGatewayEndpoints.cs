using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Server.Concurrency;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using V3Electionpb;
using V3Lockpb;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the Lock and Election services: /lock/{lock,unlock} and
/// /election/{campaign,proclaim,leader,resign} and the /election/observe stream.</summary>
public static class ConcurrencyGatewayEndpoints
{
    public static RouteGroupBuilder MapConcurrencyGateway(this RouteGroupBuilder group)
    {
        var lockGroup = group.MapGroup("/lock").WithTags("Lock");
        lockGroup.MapUnary<ILockService, LockRequest, LockResponse>("/lock", service => service.LockAsync,
            "Lock", "Acquires a distributed lock on the given name, held until unlocked or until the lease expires; waits while another holds it.");
        lockGroup.MapUnary<ILockService, UnlockRequest, UnlockResponse>("/unlock", service => service.UnlockAsync,
            "Unlock", "Releases a lock by deleting the key that Lock returned.");
        var election = group.MapGroup("/election").WithTags("Election");
        election.MapUnary<IElectionService, CampaignRequest, CampaignResponse>("/campaign", service => service.CampaignAsync,
            "Campaign", "Waits to become the leader of an election and then proclaims the given value.");
        election.MapUnary<IElectionService, ProclaimRequest, ProclaimResponse>("/proclaim", service => service.ProclaimAsync,
            "Proclaim", "Updates the leader's value without another election.");
        election.MapUnary<IElectionService, LeaderRequest, LeaderResponse>("/leader", service => service.LeaderAsync,
            "Leader", "The current leader's key and value.");
        election.MapPost("/observe", (HttpContext context, IElectionService service) => ObserveAsync(context, service))
            .WithMetadata(new GatewayContract(LeaderRequest.Descriptor, LeaderResponse.Descriptor, Streaming: true))
            .WithSummary("Streams the election's leader: one newline-delimited {\"result\": LeaderResponse} per leader or new leader value.")
            .WithDescription("etcd's `Observe` stream as JSON: the current leader (once there is one), then a line for each proclaimed value and for each next leader, until the client disconnects.");
        election.MapUnary<IElectionService, ResignRequest, ResignResponse>("/resign", service => service.ResignAsync,
            "Resign", "Gives up leadership so that a new leader can be elected.");
        return group;
    }

    /// <summary>The Observe stream as etcd's gateway serves it: each response on its own line, flushed at once.</summary>
    private static async Task ObserveAsync(HttpContext context, IElectionService service)
    {
        if (await GatewayEndpoint.ReadStreamRequestAsync(context, body => GatewayJson.ReadRequest<LeaderRequest>(body.Span)) is not { } request) return;
        if (!await GatewayEndpoint.AdmittedStreamAsync(context, request)) return;
        GatewayEndpoint.StartAnswer(context.Response);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        try
        {
            await foreach (var response in service.ObserveAsync(request, context.RequestAborted))
            {
                await GatewayEndpoint.WriteResultLineAsync(context, response, context.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }
}
