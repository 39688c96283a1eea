using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using V3Electionpb;
using V3Lockpb;

namespace HttpKv.Server.Auth;

/// <summary>What a request carries to say who sent it: a token (gRPC metadata <c>token</c>/<c>authorization</c>, the
/// HTTP <c>Authorization</c> header) and the common name of a verified client certificate.</summary>
public readonly record struct Credentials(string? Token, string? CommonName)
{
    /// <summary>etcd accepts a token with or without a <c>Bearer </c> prefix.</summary>
    public static string? TokenFrom(string? header) =>
        header is null ? null : header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : header;
}

/// <summary>The one place that decides whether a request may run, whichever door (gRPC, the /v3 JSON routes, SSE) it
/// came in by: it identifies the caller and checks each request the way etcd does — key-range permissions for
/// KV, watch, lease and the lock/election recipes (every compare and op of a txn, nested ones too), the root role
/// for administration, nothing for the calls etcd leaves open (status, member list, lease grant and keep-alive,
/// authenticate and auth status). Anything not named is treated as administration (enabling auth too: a no-op for
/// anyone while auth is off, root only once it is on, as etcd).</summary>
public sealed class Authorizer(MemberHost host)
{
    /// <summary>Identifies the caller and checks <paramref name="request"/>; returns the caller (null when auth is off).</summary>
    public ValueTask<AuthInfo?> AuthorizeAsync(IMessage request, Credentials credentials) =>
        AuthorizeAsync(request, credentials, static given => given);

    /// <summary>As <see cref="AuthorizeAsync(IMessage, Credentials)"/>, with the caller's credentials read from
    /// <paramref name="source"/> only when auth is on (nothing is read or allocated for them while it is off).</summary>
    public async ValueTask<AuthInfo?> AuthorizeAsync<TSource>(IMessage request, TSource source, Func<TSource, Credentials> credentialsOf)
    {
        ArgumentNullException.ThrowIfNull(credentialsOf);
        var member = await host.Opened;
        var auth = member.Auth;
        if (!auth.Enabled) return null;
        var credentials = credentialsOf(source);
        var caller = auth.Identify(credentials.Token, credentials.CommonName);
        Check(member, auth, request, caller);
        return caller;
    }

    private static void Check(Member member, AuthStore auth, IMessage request, AuthInfo? caller)
    {
        void Read(ByteString key, ByteString rangeEnd) => auth.CheckPermitted(caller, key, rangeEnd, Access.Read);
        void Write(ByteString key, ByteString rangeEnd) => auth.CheckPermitted(caller, key, rangeEnd, Access.Write);
        void Prefix(string name, Access access)
        {
            var prefix = ByteString.CopyFromUtf8(name + "/");
            auth.CheckPermitted(caller, prefix, PrefixEnd(prefix), access);
        }
        void LeaseKeys(long lease, Access access)
        {
            foreach (var key in member.Leases.Keys(lease)) auth.CheckPermitted(caller, key, ByteString.Empty, access);
        }

        switch (request)
        {
            case RangeRequest range:
                Read(range.Key, range.RangeEnd);
                break;
            case PutRequest put:
                CheckPut(put, Read, Write, LeaseKeys);
                break;
            case DeleteRangeRequest delete:
                CheckDelete(delete, Read, Write);
                break;
            case TxnRequest txn:
                CheckTxn(txn, Read, Write, LeaseKeys);
                break;
            case WatchCreateRequest watch:
                Read(watch.Key, watch.RangeEnd);
                break;
            case LeaseRevokeRequest revoke:
                LeaseKeys(revoke.ID, Access.Write);
                break;
            case LeaseTimeToLiveRequest timeToLive:
                LeaseKeys(timeToLive.ID, Access.Read);
                break;
            case LeaseGrantRequest or LeaseKeepAliveRequest or LeaseLeasesRequest:
            case MemberListRequest or StatusRequest or AlarmRequest:
            case AuthStatusRequest or AuthenticateRequest:
                break;
            case AuthUserGetRequest userGet when caller is not null && userGet.Name == caller.User:
                break;
            case AuthRoleGetRequest roleGet when auth.HasRole(caller, roleGet.Role):
                break;
            case LockRequest lockRequest:
                Prefix(lockRequest.Name.ToStringUtf8(), Access.Read);
                Prefix(lockRequest.Name.ToStringUtf8(), Access.Write);
                break;
            case UnlockRequest unlock:
                Write(unlock.Key, ByteString.Empty);
                break;
            case CampaignRequest campaign:
                Prefix(campaign.Name.ToStringUtf8(), Access.Read);
                Prefix(campaign.Name.ToStringUtf8(), Access.Write);
                break;
            case ProclaimRequest { Leader: { } leader }:
                Read(leader.Key, ByteString.Empty);
                Write(leader.Key, ByteString.Empty);
                break;
            case ResignRequest { Leader: { } leader }:
                Write(leader.Key, ByteString.Empty);
                break;
            case LeaderRequest leaderRequest:
                Prefix(leaderRequest.Name.ToStringUtf8(), Access.Read);
                break;
            default:
                auth.CheckAdmin(caller); // Compact, membership changes, maintenance, user and role administration, …
                break;
        }
    }

    private static void CheckPut(PutRequest put, Action<ByteString, ByteString> read, Action<ByteString, ByteString> write, Action<long, Access> leaseKeys)
    {
        write(put.Key, ByteString.Empty);
        if (put.PrevKv) read(put.Key, ByteString.Empty);
        if (put.Lease != 0) leaseKeys(put.Lease, Access.Write); // etcd: attaching to a lease needs write on the keys it holds
    }

    private static void CheckDelete(DeleteRangeRequest delete, Action<ByteString, ByteString> read, Action<ByteString, ByteString> write)
    {
        write(delete.Key, delete.RangeEnd);
        if (delete.PrevKv) read(delete.Key, delete.RangeEnd);
    }

    private static void CheckTxn(TxnRequest txn, Action<ByteString, ByteString> read, Action<ByteString, ByteString> write, Action<long, Access> leaseKeys)
    {
        foreach (var compare in txn.Compare) read(compare.Key, compare.RangeEnd);
        foreach (var op in txn.Success.Concat(txn.Failure))
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    read(op.RequestRange.Key, op.RequestRange.RangeEnd);
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    CheckPut(op.RequestPut, read, write, leaseKeys);
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    CheckDelete(op.RequestDeleteRange, read, write);
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    CheckTxn(op.RequestTxn, read, write, leaseKeys);
                    break;
            }
        }
    }

    /// <summary>The end of the range of keys that start with <paramref name="prefix"/> (etcd's GetPrefixRangeEnd).</summary>
    private static ByteString PrefixEnd(ByteString prefix)
    {
        var end = prefix.ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }
        return ByteString.CopyFrom(0);
    }
}
