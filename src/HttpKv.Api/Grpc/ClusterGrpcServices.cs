using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.Cluster</c> service over gRPC, calling the same service the JSON routes call.</summary>
public sealed class ClusterGrpcService(IClusterService cluster) : Cluster.ClusterBase
{
    public override Task<MemberListResponse> MemberList(MemberListRequest request, ServerCallContext context) =>
        cluster.MemberListAsync(request, context.CancellationToken);

    public override Task<MemberAddResponse> MemberAdd(MemberAddRequest request, ServerCallContext context) =>
        cluster.MemberAddAsync(request, context.CancellationToken);

    public override Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context) =>
        cluster.MemberRemoveAsync(request, context.CancellationToken);

    public override Task<MemberUpdateResponse> MemberUpdate(MemberUpdateRequest request, ServerCallContext context) =>
        cluster.MemberUpdateAsync(request, context.CancellationToken);

    public override Task<MemberPromoteResponse> MemberPromote(MemberPromoteRequest request, ServerCallContext context) =>
        cluster.MemberPromoteAsync(request, context.CancellationToken);
}

/// <summary>etcd's <c>etcdserverpb.Maintenance</c> service over gRPC, calling the same service the JSON routes call
/// (Snapshot in MaintenanceGrpcService.Snapshot.cs).</summary>
public sealed partial class MaintenanceGrpcService(IMaintenanceService maintenance) : Maintenance.MaintenanceBase
{
    public override Task<StatusResponse> Status(StatusRequest request, ServerCallContext context) =>
        maintenance.StatusAsync(request, context.CancellationToken);

    public override Task<MoveLeaderResponse> MoveLeader(MoveLeaderRequest request, ServerCallContext context) =>
        maintenance.MoveLeaderAsync(request, context.CancellationToken);

    public override Task<HashKVResponse> HashKV(HashKVRequest request, ServerCallContext context) =>
        maintenance.HashKVAsync(request, context.CancellationToken);

    public override Task<HashResponse> Hash(HashRequest request, ServerCallContext context) =>
        maintenance.HashAsync(request, context.CancellationToken);

    public override Task<AlarmResponse> Alarm(AlarmRequest request, ServerCallContext context) =>
        maintenance.AlarmAsync(request, context.CancellationToken);

    public override Task<DefragmentResponse> Defragment(DefragmentRequest request, ServerCallContext context) =>
        maintenance.DefragmentAsync(request, context.CancellationToken);

    public override Task<DowngradeResponse> Downgrade(DowngradeRequest request, ServerCallContext context) =>
        maintenance.DowngradeAsync(request, context.CancellationToken);
}
