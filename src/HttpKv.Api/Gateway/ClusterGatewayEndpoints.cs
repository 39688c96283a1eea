using Etcdserverpb;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the Cluster and Maintenance services.</summary>
public static class ClusterGatewayEndpoints
{
    public static RouteGroupBuilder MapClusterGateway(this RouteGroupBuilder group)
    {
        var cluster = group.MapGroup("/cluster/member").WithTags("Cluster");
        cluster.MapUnary<IClusterService, MemberListRequest, MemberListResponse>("/list", service => service.MemberListAsync,
            "MemberList", "Lists the members of the cluster.");
        cluster.MapUnary<IClusterService, MemberAddRequest, MemberAddResponse>("/add", service => service.MemberAddAsync,
            "MemberAdd", "Adds a member (or a learner) to the cluster.");
        cluster.MapUnary<IClusterService, MemberRemoveRequest, MemberRemoveResponse>("/remove", service => service.MemberRemoveAsync,
            "MemberRemove", "Removes a member from the cluster.");
        cluster.MapUnary<IClusterService, MemberUpdateRequest, MemberUpdateResponse>("/update", service => service.MemberUpdateAsync,
            "MemberUpdate", "Updates a member's peer URLs.");
        cluster.MapUnary<IClusterService, MemberPromoteRequest, MemberPromoteResponse>("/promote", service => service.MemberPromoteAsync,
            "MemberPromote", "Promotes a learner to a voting member.");

        var maintenance = group.MapGroup("/maintenance").WithTags("Maintenance");
        maintenance.MapUnary<IMaintenanceService, StatusRequest, StatusResponse>("/status", service => service.StatusAsync,
            "Status", "The member's status: version, database size, leader, Raft index and term.");
        maintenance.MapUnary<IMaintenanceService, MoveLeaderRequest, MoveLeaderResponse>("/transfer-leadership", service => service.MoveLeaderAsync,
            "MoveLeader", "Asks the leader to hand leadership to another voting member.");
        maintenance.MapUnary<IMaintenanceService, HashKVRequest, HashKVResponse>("/hashkv", service => service.HashKVAsync,
            "HashKV", "A hash of the key-value history up to a revision, equal on every member at that revision.");
        maintenance.MapUnary<IMaintenanceService, HashRequest, HashResponse>("/hash", service => service.HashAsync,
            "Hash", "A hash of the member's whole backend (for tests; HashKV is the one to compare members with).");
        maintenance.MapUnary<IMaintenanceService, AlarmRequest, AlarmResponse>("/alarm", service => service.AlarmAsync,
            "Alarm", "Lists, raises or clears alarms (NOSPACE, CORRUPT).");
        maintenance.MapUnary<IMaintenanceService, DefragmentRequest, DefragmentResponse>("/defragment", service => service.DefragmentAsync,
            "Defragment", "Rewrites this member's backend without its free pages; reads and writes go on meanwhile.");
        maintenance.MapUnary<IMaintenanceService, DowngradeRequest, DowngradeResponse>("/downgrade", service => service.DowngradeAsync,
            "Downgrade", "Answers etcd's errors: HttpKv has no older storage format to downgrade to.");
        return group;
    }
}
