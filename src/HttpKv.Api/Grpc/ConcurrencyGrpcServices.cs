using Grpc.Core;
using HttpKv.Server.Concurrency;
using V3Electionpb;
using V3Lockpb;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>v3lockpb.Lock</c> service over gRPC.</summary>
public sealed class LockGrpcService(ILockService locks) : V3Lockpb.Lock.LockBase
{
    public override Task<LockResponse> Lock(LockRequest request, ServerCallContext context) =>
        locks.LockAsync(request, AdmittedCaller.Of(context), context.CancellationToken);

    public override Task<UnlockResponse> Unlock(UnlockRequest request, ServerCallContext context) =>
        locks.UnlockAsync(request, AdmittedCaller.Of(context), context.CancellationToken);
}

/// <summary>etcd's <c>v3electionpb.Election</c> service over gRPC.</summary>
public sealed class ElectionGrpcService(IElectionService elections) : Election.ElectionBase
{
    public override Task<CampaignResponse> Campaign(CampaignRequest request, ServerCallContext context) =>
        elections.CampaignAsync(request, AdmittedCaller.Of(context), context.CancellationToken);

    public override Task<ProclaimResponse> Proclaim(ProclaimRequest request, ServerCallContext context) =>
        elections.ProclaimAsync(request, AdmittedCaller.Of(context), context.CancellationToken);

    public override Task<LeaderResponse> Leader(LeaderRequest request, ServerCallContext context) =>
        elections.LeaderAsync(request, context.CancellationToken);

    public override async Task Observe(LeaderRequest request, IServerStreamWriter<LeaderResponse> responseStream, ServerCallContext context)
    {
        try
        {
            await foreach (var response in elections.ObserveAsync(request, context.CancellationToken))
                await responseStream.WriteAsync(response, context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
    }

    public override Task<ResignResponse> Resign(ResignRequest request, ServerCallContext context) =>
        elections.ResignAsync(request, AdmittedCaller.Of(context), context.CancellationToken);
}
