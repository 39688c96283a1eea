using System.Security.Cryptography;
using System.Text;
using Etcdserverpb;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;

namespace HttpKv.Server;

/// <summary>etcd's Cluster service (member list/add/remove/update/promote) as every interface calls it.</summary>
public interface IClusterService
{
    Task<MemberListResponse> MemberListAsync(MemberListRequest request, CancellationToken cancellationToken);
    Task<MemberAddResponse> MemberAddAsync(MemberAddRequest request, CancellationToken cancellationToken);
    Task<MemberRemoveResponse> MemberRemoveAsync(MemberRemoveRequest request, CancellationToken cancellationToken);
    Task<MemberUpdateResponse> MemberUpdateAsync(MemberUpdateRequest request, CancellationToken cancellationToken);
    Task<MemberPromoteResponse> MemberPromoteAsync(MemberPromoteRequest request, CancellationToken cancellationToken);

    /// <summary>A promotion another member forwarded to this one as the leader: judged here, never forwarded again.</summary>
    Task<MemberPromoteResponse> ForwardedPromoteAsync(ulong id, CancellationToken cancellationToken);
}

/// <summary>Membership changes go through the Raft log as conf changes (one member at a time); etcd's checks and errors.</summary>
public sealed class ClusterServer(MemberHost host) : IClusterService
{
    public async Task<MemberListResponse> MemberListAsync(MemberListRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (request.Linearizable) await member.Log.WaitForReadIndexAsync(cancellationToken);
        var response = new MemberListResponse { Header = ClusterHeader(member) };
        response.Members.AddRange(member.Log.Members);
        return response;
    }

    public async Task<MemberAddResponse> MemberAddAsync(MemberAddRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (request.PeerURLs.Count == 0 || request.PeerURLs.Any(url => !Uri.TryCreate(url, UriKind.Absolute, out _))) throw EtcdErrors.MemberBadUrls.ToException();
        var members = member.Log.Members;
        if (members.Any(existing => existing.PeerURLs.Intersect(request.PeerURLs).Any())) throw EtcdErrors.PeerUrlExists.ToException();
        if (request.IsLearner && members.Count(existing => existing.IsLearner) >= member.Options.EffectiveMaxLearners) throw EtcdErrors.TooManyLearners.ToException();
        CheckReadyToAdd(member, request.IsLearner);
        var added = new Etcdserverpb.Member { ID = NewMemberId(request.PeerURLs, member.Options.InitialClusterToken), IsLearner = request.IsLearner };
        added.PeerURLs.AddRange(request.PeerURLs);
        var applied = await member.Log.ProposeConfChangeAsync(request.IsLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, added, cancellationToken);
        var response = new MemberAddResponse { Header = ClusterHeader(member), Member = added };
        response.Members.AddRange(applied.Members);
        return response;
    }

    public async Task<MemberRemoveResponse> MemberRemoveAsync(MemberRemoveRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var removed = member.Log.Members.FirstOrDefault(existing => existing.ID == request.ID) ?? throw EtcdErrors.MemberNotFound.ToException();
        if (!removed.IsLearner) CheckReadyToRemoveVoter(member, removed.ID);
        var applied = await member.Log.ProposeConfChangeAsync(ConfChangeType.RemoveNode, removed, cancellationToken);
        var response = new MemberRemoveResponse { Header = ClusterHeader(member) };
        response.Members.AddRange(applied.Members);
        return response;
    }

    public async Task<MemberUpdateResponse> MemberUpdateAsync(MemberUpdateRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (member.Log.Members.All(existing => existing.ID != request.ID)) throw EtcdErrors.MemberNotFound.ToException();
        var update = new Etcdserverpb.Member { ID = request.ID };
        update.PeerURLs.AddRange(request.PeerURLs);
        var applied = (MemberListResponse)await member.Log.ProposeAsync(new LogRequest { MemberUpdate = update }, cancellationToken);
        var response = new MemberUpdateResponse { Header = ClusterHeader(member) };
        response.Members.AddRange(applied.Members);
        return response;
    }

    /// <summary>How long a follower waits for the leader to answer a forwarded promotion.</summary>
    public static readonly TimeSpan PromoteForwardTimeout = TimeSpan.FromSeconds(5);

    public async Task<MemberPromoteResponse> MemberPromoteAsync(MemberPromoteRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var learner = member.Log.Members.FirstOrDefault(existing => existing.ID == request.ID) ?? throw EtcdErrors.MemberNotFound.ToException();
        if (!learner.IsLearner) throw EtcdErrors.MemberNotLearner.ToException();
        if (member.Log.IsLeader) return await PromoteAsLeaderAsync(member, learner, cancellationToken);
        // Only the leader knows how far the learner's log is: as etcd, a follower forwards the promotion to it.
        var leader = member.Log.Leader;
        if (leader == 0) throw EtcdErrors.NoLeader.ToException();
        try
        {
            var response = await member.ForwardPromoteAsync(leader, learner.ID, PromoteForwardTimeout, cancellationToken);
            response.Header = ClusterHeader(member);
            return response;
        }
        catch (RpcException exception) when (exception is not EtcdException)
        {
            // The leader's refusal in etcd's words, or the peer call's own failure as Unavailable.
            throw (exception.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled
                ? EtcdErrors.TimeoutDueToConnectionLost
                : new EtcdError(exception.Status.Detail, exception.StatusCode)).ToException();
        }
    }

    public async Task<MemberPromoteResponse> ForwardedPromoteAsync(ulong id, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (!member.Log.IsLeader) throw EtcdErrors.NoLeader.ToException();
        var learner = member.Log.Members.FirstOrDefault(existing => existing.ID == id) ?? throw EtcdErrors.MemberNotFound.ToException();
        if (!learner.IsLearner) throw EtcdErrors.MemberNotLearner.ToException();
        return await PromoteAsLeaderAsync(member, learner, cancellationToken);
    }

    private static async Task<MemberPromoteResponse> PromoteAsLeaderAsync(Member member, Etcdserverpb.Member learner, CancellationToken cancellationToken)
    {
        Etcdserverpb.MemberListResponse applied;
        try
        {
            await CheckLearnerInSyncAsync(member, learner.ID);
            CheckReadyToPromote(member);
            applied = await member.Log.ProposeConfChangeAsync(ConfChangeType.AddNode, learner, cancellationToken);
        }
        catch (EtcdException refused)
        {
            Metrics.ServerMetrics.LearnerPromoteFailures.WithLabels(refused.Status.Detail).Inc();
            throw;
        }
        Metrics.ServerMetrics.LearnerPromotions.Inc();
        var response = new MemberPromoteResponse { Header = ClusterHeader(member) };
        response.Members.AddRange(applied.Members);
        return response;
    }

    // --strict-reconfig-check, as etcd judges it, on whichever member takes the request. "Started" members are those
    // that have published their name (a member added but never started has none), known to every member from the
    // membership; "connected" ones are those this member has reached without a failure for etcd's health interval
    // (its Raft stream or its probe, PeerActivity), as etcd's numConnectedSince reads its own transport. A learner's
    // add is checked for the connections only, its removal not at all.

    /// <summary>etcd's HealthInterval: a peer counts as connected once this member has reached it for this long.</summary>
    public static readonly TimeSpan HealthInterval = TimeSpan.FromSeconds(5);

    private static List<Etcdserverpb.Member> Voters(Member member) => member.Log.Members.Where(existing => !existing.IsLearner).ToList();

    private static bool IsConnected(Member member, ulong id) => member.PeerActiveFor(id) >= HealthInterval;

    /// <summary>For a voter etcd's IsReadyToAddVotingMember: with the new voter, a quorum must have started, except
    /// that one started member may add a second (growing a single member into a cluster, or restoring one from a
    /// snapshot). Then for any member etcd's "connected to every voter" check.</summary>
    private static void CheckReadyToAdd(Member member, bool learner)
    {
        if (!member.Options.StrictReconfigCheck) return;
        var voters = Voters(member);
        var started = voters.Count(existing => existing.Name.Length > 0);
        var after = voters.Count + 1;
        if (!learner && !(started == 1 && after == 2) && started < after / 2 + 1) throw EtcdErrors.NotEnoughStartedMembers.ToException();
        if (voters.Any(voter => !IsConnected(member, voter.ID))) throw EtcdErrors.Unhealthy.ToException();
    }

    /// <summary>etcd's IsReadyToRemoveVotingMember, then: removing a voter this member cannot reach is safe; removing
    /// a reachable one must leave a quorum of connected voters.</summary>
    private static void CheckReadyToRemoveVoter(Member member, ulong leaving)
    {
        if (!member.Options.StrictReconfigCheck) return;
        var voters = Voters(member);
        var remaining = voters.Where(existing => existing.ID != leaving).ToList();
        if (remaining.Count(existing => existing.Name.Length > 0) < remaining.Count / 2 + 1) throw EtcdErrors.NotEnoughStartedMembers.ToException();
        if (member.PeerActiveFor(leaving) == TimeSpan.Zero) return;
        var connected = voters.Count(voter => IsConnected(member, voter.ID));
        if (connected - 1 < 1 + (voters.Count - 1) / 2) throw EtcdErrors.Unhealthy.ToException();
    }

    /// <summary>etcd's IsReadyToPromoteMember: the learner counted as a started voter, a quorum of the voters after the
    /// promotion must have started.</summary>
    private static void CheckReadyToPromote(Member member)
    {
        if (!member.Options.StrictReconfigCheck) return;
        var voters = Voters(member);
        var started = voters.Count(existing => existing.Name.Length > 0) + 1;
        if (started < (voters.Count + 1) / 2 + 1) throw EtcdErrors.NotEnoughStartedMembers.ToException();
    }

    /// <summary>etcd promotes a learner only once its log is within 10% of the leader's (judged on the leader, to which
    /// a follower forwards the promotion).</summary>
    private static async Task CheckLearnerInSyncAsync(Member member, ulong learnerId)
    {
        var status = await member.Log.GetStatusAsync();
        var leaderMatch = status.Progress.TryGetValue(status.Id, out var own) ? own.Match : status.Commit;
        if (!status.Progress.TryGetValue(learnerId, out var learner) || learner.Match < leaderMatch * 9 / 10) throw EtcdErrors.LearnerNotReady.ToException();
    }

    /// <summary>etcd's ID for a member added at run time: the founders' formula with the time appended, so re-adding the
    /// same URLs later gives a new ID.</summary>
    private static ulong NewMemberId(IEnumerable<string> peerUrls, string token)
    {
        var input = string.Concat(peerUrls.Order(StringComparer.Ordinal)) + token + DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(input));
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    /// <summary>etcd's cluster answers carry the cluster, the member and the term but no revision (its ClusterServer
    /// fills no revision, unlike the KV, lease and maintenance ones).</summary>
    private static ResponseHeader ClusterHeader(Member member) => member.Header(revision: 0);
}
