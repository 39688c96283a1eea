using HttpKv.Server;
using Microsoft.AspNetCore.Http;

namespace HttpKv.Api;

/// <summary>etcd's <c>hasleader</c> metadata (clientv3's <c>WithRequireLeader</c>; Kubernetes sets it on every watch):
/// a call that carries it is refused with "etcdserver: no leader" while the member knows no leader, and a watch or
/// lease keep-alive stream that carries it is ended with that error once the member has had no leader for three
/// election timeouts (<see cref="LeaderMonitor"/>), so its client moves to a member that has one. Over the gateway the
/// metadata is the <c>Grpc-Metadata-Hasleader</c> header, as grpc-gateway relays it.</summary>
public static class RequireLeader
{
    /// <summary>etcd's rpctypes.MetadataRequireLeaderKey and its one value.</summary>
    public const string Key = "hasleader";
    private const string GatewayHeader = "Grpc-Metadata-" + Key;

    /// <summary>Whether a gRPC call (<paramref name="gateway"/> false) or a gateway request asks for a leader.</summary>
    public static bool IsAsked(HttpContext context, bool gateway) =>
        context.Request.Headers[gateway ? GatewayHeader : Key] is { Count: > 0 } values && values[0] == "true";

    /// <summary>The token a stream runs on: the client's own, and for a stream that asks for a leader also the
    /// member's <see cref="LeaderMonitor.NoLeader"/> (the returned source, to dispose with the stream).</summary>
    public static CancellationTokenSource? Link(Member member, bool asked, CancellationToken client, out CancellationToken token)
    {
        if (!asked)
        {
            token = client;
            return null;
        }
        var linked = CancellationTokenSource.CreateLinkedTokenSource(client, member.LeaderMonitor.NoLeader);
        token = linked.Token;
        return linked;
    }

    /// <summary>Whether a stream ended because its member lost the leader rather than because its client went away:
    /// it is then answered "etcdserver: no leader", as etcd answers the streams its monitor cancels.</summary>
    public static bool EndedForNoLeader(CancellationTokenSource? linked, CancellationToken client) =>
        linked is not null && linked.IsCancellationRequested && !client.IsCancellationRequested;
}
