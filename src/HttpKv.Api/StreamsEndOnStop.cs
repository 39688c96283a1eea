using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HttpKv.Api;

/// <summary>Long-lived streams — watches (gRPC, JSON and SSE), lease keep-alives, election observers, and the Raft
/// streams from the other members — end when the member stops, as etcd's do. Kestrel otherwise waits for each one
/// still open until its 30 s shutdown timeout, so a member with one idle `etcdctl watch` attached, or any member of a
/// stopping cluster (each holds the others' Raft streams), took 30 s to stop. The request's abort token is linked with the
/// application's stopping token; only these routes pay for the link.</summary>
internal static class StreamsEndOnStop
{
    private static readonly string[] StreamPathSuffixes =
    [
        "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive", "/v3electionpb.Election/Observe",
        "/watch", "/watch/sse", "/lease/keepalive", "/election/observe",
        "/etcdserverpb.Maintenance/Snapshot", "/maintenance/snapshot",
        "/httpkv.peer.RaftPeer/Stream",
    ];

    public static void Use(WebApplication app)
    {
        var stopping = app.Lifetime.ApplicationStopping;
        // Other requests pass straight through, without an async frame of this middleware.
        app.Use(next => context => IsStream(context.Request.Path) ? LinkedAsync(context, next, stopping) : next(context));
    }

    private static async Task LinkedAsync(HttpContext context, RequestDelegate next, CancellationToken stopping)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        context.RequestAborted = ended.Token;
        await next(context);
    }

    internal static bool IsStream(PathString path)
    {
        var value = path.Value;
        if (value is null) return false;
        foreach (var suffix in StreamPathSuffixes)
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
