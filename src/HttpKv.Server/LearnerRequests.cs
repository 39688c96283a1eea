using Etcdserverpb;
using HttpKv.Protocol;

namespace HttpKv.Server;

/// <summary>What a learner serves, as etcd 3.5's gRPC interceptors decide it: of the unary calls only Status and
/// serializable Range (a learner is not part of any quorum, so it cannot confirm a linearizable read or take a
/// write), of the streams only Maintenance.Snapshot; everything else is refused with Unavailable
/// "etcdserver: rpc not supported for learner", which etcd's clients take as "try another endpoint". Once promoted,
/// the member serves everything.</summary>
public static class LearnerRequests
{
    /// <summary>The one stream a learner serves.</summary>
    public const string SnapshotMethod = "/etcdserverpb.Maintenance/Snapshot";

    /// <summary>Whether a learner answers this unary request.</summary>
    public static bool Serves(object request) => request is StatusRequest or RangeRequest { Serializable: true };

    /// <summary>Refuses <paramref name="request"/> (a unary request, or null for a stream other than Snapshot) when this member is a learner.</summary>
    public static async ValueTask CheckAsync(MemberHost host, object? request) => Check(await host.Ready, request);

    /// <summary>As <see cref="CheckAsync"/>, on a member already ready.</summary>
    public static void Check(Member member, object? request)
    {
        if (member.Log.IsLearner && (request is null || !Serves(request))) throw EtcdErrors.NotSupportedForLearner.ToException();
    }
}
