using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server.Leases;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.Lease</c> service over gRPC. LeaseKeepAlive answers each request on the stream
/// with the lease's new TTL (0 for a lease that does not exist), in order.</summary>
public sealed class LeaseGrpcService(ILeaseService leases, HttpKv.Server.MemberHost host) : Lease.LeaseBase
{
    private static bool Forwarded(ServerCallContext context) => context.RequestHeaders.Get(LeaseServer.ForwardedHeader) is not null;

    public override Task<LeaseGrantResponse> LeaseGrant(LeaseGrantRequest request, ServerCallContext context) =>
        leases.GrantAsync(request, context.CancellationToken);

    public override Task<LeaseRevokeResponse> LeaseRevoke(LeaseRevokeRequest request, ServerCallContext context) =>
        leases.RevokeAsync(request, context.CancellationToken);

    public override async Task LeaseKeepAlive(IAsyncStreamReader<LeaseKeepAliveRequest> requestStream,
        IServerStreamWriter<LeaseKeepAliveResponse> responseStream, ServerCallContext context)
    {
        var forwarded = Forwarded(context);
        var client = context.CancellationToken;
        var member = await host.Ready;
        using var noLeader = RequireLeader.Link(member, RequireLeader.IsAsked(context.GetHttpContext(), gateway: false), client, out var aborted);
        try
        {
            while (await StreamFailures.CountAsync(requestStream.MoveNext(aborted), "receive", "lease-keepalive", aborted))
            {
                var response = await leases.KeepAliveAsync(requestStream.Current, forwarded, aborted);
                await StreamFailures.CountAsync(responseStream.WriteAsync(response, aborted), "send", "lease-keepalive", aborted);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException && RequireLeader.EndedForNoLeader(noLeader, client))
        {
            throw HttpKv.Protocol.EtcdErrors.NoLeader.ToException(); // the member has long had no leader: as etcd, the stream ends with the error
        }
    }

    public override Task<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseTimeToLiveRequest request, ServerCallContext context) =>
        leases.TimeToLiveAsync(request, Forwarded(context), context.CancellationToken);

    public override Task<LeaseLeasesResponse> LeaseLeases(LeaseLeasesRequest request, ServerCallContext context) =>
        leases.LeasesAsync(request, context.CancellationToken);
}
