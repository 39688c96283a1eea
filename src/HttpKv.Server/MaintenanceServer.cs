using Etcdserverpb;
using Grpc.Core;
using HttpKv.Protocol;

namespace HttpKv.Server;

/// <summary>The parts of etcd's Maintenance service that belong to a member's Raft state: Status, MoveLeader, HashKV.</summary>
public interface IMaintenanceService
{
    Task<StatusResponse> StatusAsync(StatusRequest request, CancellationToken cancellationToken);
    Task<MoveLeaderResponse> MoveLeaderAsync(MoveLeaderRequest request, CancellationToken cancellationToken);
    Task<HashKVResponse> HashKVAsync(HashKVRequest request, CancellationToken cancellationToken);
}

public sealed class MaintenanceServer(MemberHost host) : IMaintenanceService
{
    public static readonly EtcdError NotLeader = new("etcdserver: not leader", StatusCode.FailedPrecondition);
    public static readonly EtcdError BadLeaderTransferee = new("etcdserver: bad leader transferee", StatusCode.FailedPrecondition);

    public async Task<StatusResponse> StatusAsync(StatusRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Opened;
        var store = member.Stores.Current;
        var dbSize = new FileInfo(Path.Combine(Path.GetFullPath(member.Options.ResolvedDataDir), "member", "snap", "db")).Length;
        return new StatusResponse
        {
            Header = member.Header(store.CurrentRevision),
            Version = EtcdVersion.Server,
            DbSize = dbSize,
            DbSizeInUse = dbSize,
            Leader = member.Log.Leader,
            RaftIndex = member.Log.CommittedIndex,
            RaftTerm = member.Log.Term,
            RaftAppliedIndex = member.Log.AppliedIndex,
            IsLearner = member.Log.IsLearner,
        };
    }

    public async Task<MoveLeaderResponse> MoveLeaderAsync(MoveLeaderRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (!member.Log.IsLeader) throw NotLeader.ToException();
        var target = member.Log.Members.FirstOrDefault(existing => existing.ID == request.TargetID);
        if (target is null || target.IsLearner) throw BadLeaderTransferee.ToException();
        if (request.TargetID != member.Identity.MemberId) await member.Log.TransferLeadershipAsync(request.TargetID, cancellationToken);
        return new MoveLeaderResponse { Header = member.Header(member.Stores.Current.CurrentRevision) };
    }

    public async Task<HashKVResponse> HashKVAsync(HashKVRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var (hash, compacted, revision) = member.Stores.Read(store =>
        {
            var at = request.Revision > 0 ? request.Revision : store.CurrentRevision;
            return (store.HashKv(at, out var compactRevision), compactRevision, at);
        });
        return new HashKVResponse { Header = member.Header(member.Stores.Current.CurrentRevision), Hash = hash, CompactRevision = compacted, HashRevision = revision };
    }
}
