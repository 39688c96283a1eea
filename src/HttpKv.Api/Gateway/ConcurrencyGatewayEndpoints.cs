using HttpKv.Server.Concurrency;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using V3Electionpb;
using V3Lockpb;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the Lock and Election services: /lock/{lock,unlock} and
/// /election/{campaign,proclaim,leader,resign}.</summary>
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
        election.MapUnary<IElectionService, ResignRequest, ResignResponse>("/resign", service => service.ResignAsync,
            "Resign", "Gives up leadership so that a new leader can be elected.");
        return group;
    }
}
