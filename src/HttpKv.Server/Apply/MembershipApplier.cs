using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;
using HttpKv.Server.Cluster;
using HttpKv.Server.Peers;

namespace HttpKv.Server.Apply;

/// <summary>The member list: a member's published attributes and new peer URLs (requests), and the members a Raft
/// configuration change adds, promotes or removes (<see cref="ApplyConfChange"/>, called by the Raft loop once Raft has
/// taken the change). Each stores the list with the entry (<see cref="BackendMeta.Members"/>) and keeps the peer
/// transport's addresses in step.</summary>
public sealed class MembershipApplier(Membership membership, PeerTransport transport, ulong selfId, Action removedFromCluster) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        switch (request.RequestCase)
        {
            case LogRequest.RequestOneofCase.MemberAttributes:
                membership.SetAttributes(request.MemberAttributes);
                break;
            case LogRequest.RequestOneofCase.MemberUpdate:
                membership.UpdatePeerUrls(request.MemberUpdate.ID, request.MemberUpdate.PeerURLs);
                transport.AddOrUpdatePeer(request.MemberUpdate.ID, [.. request.MemberUpdate.PeerURLs]);
                break;
            default:
                throw new ArgumentException($"not a membership request: {request.RequestCase}", nameof(request));
        }
        return Applied(batch, index);
    }

    /// <summary>The member list's side of a configuration change Raft has applied.</summary>
    public MemberListResponse ApplyConfChange(ApplyBatch batch, ulong index, ConfChange change, ConfChangeContext context)
    {
        switch (change.Type)
        {
            case ConfChangeType.AddNode when membership.Find(change.NodeId) is { IsLearner: true }:
                membership.Promote(change.NodeId);
                break;
            case ConfChangeType.AddNode or ConfChangeType.AddLearnerNode when context.Member is not null:
                membership.Add(context.Member);
                transport.AddOrUpdatePeer(change.NodeId, [.. context.Member.PeerURLs]);
                break;
            case ConfChangeType.RemoveNode:
                membership.Remove(change.NodeId);
                transport.RemovePeer(change.NodeId);
                if (change.NodeId == selfId) removedFromCluster();
                break;
        }
        return Applied(batch, index);
    }

    private MemberListResponse Applied(ApplyBatch batch, ulong index)
    {
        batch.SetMeta(BackendMeta.Members, membership.Encode());
        batch.MarkApplied(index);
        var response = new MemberListResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
        response.Members.AddRange(membership.Snapshot);
        return response;
    }
}
