using System.Collections.Concurrent;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Leases;

/// <summary>etcd's Lease service as every interface (gRPC, the /v3 JSON routes) calls it.</summary>
public interface ILeaseService
{
    Task<LeaseGrantResponse> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken);
    Task<LeaseRevokeResponse> RevokeAsync(LeaseRevokeRequest request, CancellationToken cancellationToken);

    /// <summary>One keep-alive: the lease's TTL from now, or TTL 0 when it does not exist. Renewed on the leader;
    /// a follower forwards it (<paramref name="forwarded"/>: it came from a follower, do not forward again).</summary>
    Task<LeaseKeepAliveResponse> KeepAliveAsync(LeaseKeepAliveRequest request, bool forwarded, CancellationToken cancellationToken);

    /// <summary>TTL -1 for a lease that does not exist, as etcd answers. Answered by the leader.</summary>
    Task<LeaseTimeToLiveResponse> TimeToLiveAsync(LeaseTimeToLiveRequest request, bool forwarded, CancellationToken cancellationToken);
    Task<LeaseLeasesResponse> LeasesAsync(LeaseLeasesRequest request, CancellationToken cancellationToken);
}

/// <summary>Grant and revoke go through the log; keep-alive and time-to-live are answered by the leader, which alone
/// tracks deadlines: a follower forwards them over gRPC to the leader's client URL (docs/leases.md).</summary>
public sealed class LeaseServer(MemberHost host) : ILeaseService, IAsyncDisposable
{
    /// <summary>The metadata a forwarded call carries, so that a member that is not the leader either refuses it.</summary>
    public const string ForwardedHeader = "httpkv-forwarded";

    private readonly ConcurrentDictionary<string, GrpcChannel> channels = new();

    public async Task<LeaseGrantResponse> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = await host.Ready;
        if (request.TTL > Lessor.MaxTtl) throw EtcdErrors.LeaseTtlTooLarge.ToException();
        var grant = new LeaseGrantRequest
        {
            ID = request.ID != 0 ? request.ID : member.Log.NewLeaseId(),
            TTL = Math.Max(request.TTL, member.Leases.MinTtl),
        };
        var proposal = new LogRequest { LeaseGrant = grant };
        await member.Quota.CheckAsync(member, proposal, cancellationToken);
        var response = (LeaseGrantResponse)await member.Log.ProposeAsync(proposal, cancellationToken);
        response.Header = member.Header(response.Header.Revision);
        return response;
    }

    public async Task<LeaseRevokeResponse> RevokeAsync(LeaseRevokeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = await host.Ready;
        var response = (LeaseRevokeResponse)await member.Log.ProposeAsync(
            new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = request.ID } }, cancellationToken);
        response.Header = member.Header(response.Header.Revision);
        return response;
    }

    public async Task<LeaseKeepAliveResponse> KeepAliveAsync(LeaseKeepAliveRequest request, bool forwarded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = await host.Ready;
        if (!member.Log.IsLeader)
        {
            if (forwarded) throw EtcdErrors.NotLeader.ToException();
            var client = LeaderClient(member);
            using var call = client.LeaseKeepAlive(Forwarded(), cancellationToken: cancellationToken);
            await call.RequestStream.WriteAsync(request, cancellationToken);
            await call.RequestStream.CompleteAsync();
            if (!await call.ResponseStream.MoveNext(cancellationToken)) throw EtcdErrors.NoLeader.ToException();
            return call.ResponseStream.Current;
        }
        await member.Log.WaitForAppliedCommitAsync(cancellationToken); // a lease granted under the previous leader is known
        var (ttl, clearCheckpoint) = member.Leases.Renew(request.ID);
        if (clearCheckpoint)
        {
            // As etcd's Renew: the lease runs its whole TTL again, so its checkpointed remaining TTL must go everywhere.
            var clear = new LeaseCheckpointRequest();
            clear.Checkpoints.Add(new LeaseCheckpoint { ID = request.ID, RemainingTTL = 0 });
            await member.Log.ProposeAsync(new LogRequest { LeaseCheckpoint = clear }, cancellationToken);
        }
        return new LeaseKeepAliveResponse { Header = member.CurrentHeader(), ID = request.ID, TTL = ttl };
    }

    public async Task<LeaseTimeToLiveResponse> TimeToLiveAsync(LeaseTimeToLiveRequest request, bool forwarded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = await host.Ready;
        if (!member.Log.IsLeader)
        {
            if (forwarded) throw EtcdErrors.NotLeader.ToException();
            return await LeaderClient(member).LeaseTimeToLiveAsync(request, Forwarded(), cancellationToken: cancellationToken);
        }
        await member.Log.WaitForAppliedCommitAsync(cancellationToken);
        var response = member.Leases.TimeToLive(request.ID, request.Keys) ?? new LeaseTimeToLiveResponse { ID = request.ID, TTL = -1 };
        response.Header = member.CurrentHeader();
        return response;
    }

    public async Task<LeaseLeasesResponse> LeasesAsync(LeaseLeasesRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var response = new LeaseLeasesResponse { Header = member.CurrentHeader() };
        response.Leases.AddRange(member.Leases.Ids().Select(id => new LeaseStatus { ID = id }));
        return response;
    }

    private static Metadata Forwarded() => [new Metadata.Entry(ForwardedHeader, "1")];

    private Lease.LeaseClient LeaderClient(Member member)
    {
        var leader = member.Log.Leader;
        var url = member.Log.Members.FirstOrDefault(candidate => candidate.ID == leader)?.ClientURLs.FirstOrDefault();
        if (leader == 0 || url is null) throw EtcdErrors.NoLeader.ToException();
        return new Lease.LeaseClient(channels.GetOrAdd(url, address => host.Security.Client.CreateChannel(address)));
    }

    public ValueTask DisposeAsync()
    {
        foreach (var channel in channels.Values) channel.Dispose();
        channels.Clear();
        return ValueTask.CompletedTask;
    }
}
