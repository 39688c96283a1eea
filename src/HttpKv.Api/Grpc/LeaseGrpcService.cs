using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server.Leases;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.Lease</c> service over gRPC. LeaseKeepAlive answers each request on the stream
/// with the lease's new TTL (0 for a lease that does not exist), in order.</summary>
public sealed class LeaseGrpcService(ILeaseService leases) : Lease.LeaseBase
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
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            var response = await leases.KeepAliveAsync(requestStream.Current, forwarded, context.CancellationToken);
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    public override Task<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseTimeToLiveRequest request, ServerCallContext context) =>
        leases.TimeToLiveAsync(request, Forwarded(context), context.CancellationToken);

    public override Task<LeaseLeasesResponse> LeaseLeases(LeaseLeasesRequest request, ServerCallContext context) =>
        leases.LeasesAsync(request, context.CancellationToken);
}
