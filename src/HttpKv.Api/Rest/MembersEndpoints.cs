using System.Globalization;
using Etcdserverpb;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Rest;

/// <summary>One member and its Status as the REST API shows it; IDs in hex (as etcdctl prints them; they pass what a
/// JavaScript number holds). The status fields are null, and <see cref="Error"/> says why, when the member did not answer.</summary>
public sealed record RestMemberStatus(string Id, string Name, IReadOnlyList<string> PeerUrls, IReadOnlyList<string> ClientUrls, bool IsLearner,
    string? Version, string? Leader, long? RaftTerm, long? RaftIndex, long? RaftAppliedIndex, long? DbSize, long? DbSizeInUse,
    IReadOnlyList<string> Errors, string? Error);

/// <summary><c>GET /api/v1/members</c>: every member's Status gathered by the member asked (from the others on their
/// peer ports), so that a page served by one member can show the whole cluster without contacting another host.</summary>
public static class MembersEndpoints
{
    public static IEndpointRouteBuilder MapMembersApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").WithTags("Cluster").MapGet("/members", ListAsync)
            .WithSummary("Every member with its role, Raft term and indexes, database sizes, version and errors")
            .WithDescription("Asked of each member on its peer port by the member serving the request (two seconds each); a member " +
                "that does not answer has `error` set and no figures. As etcd's Status and MemberList, it needs no permission.")
            .Produces<IReadOnlyList<RestMemberStatus>>();
        return app;
    }

    private static Task<IResult> ListAsync(HttpContext context, IMaintenanceService maintenance) =>
        KeysEndpoints.CallAsync(context, new StatusRequest(), async () =>
            TypedResults.Ok((await maintenance.MemberStatusesAsync(context.RequestAborted)).Select(Show).ToList()));

    private static string Hex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);

    private static RestMemberStatus Show(MemberStatus entry)
    {
        var (member, status) = (entry.Member, entry.Status);
        return new RestMemberStatus(Hex(member.ID), member.Name, [.. member.PeerURLs], [.. member.ClientURLs], member.IsLearner,
            status?.Version, status is null ? null : Hex(status.Leader), (long?)status?.RaftTerm, (long?)status?.RaftIndex,
            (long?)status?.RaftAppliedIndex, status?.DbSize, status?.DbSizeInUse, status is null ? [] : [.. status.Errors], entry.Error);
    }
}
