using System.Runtime.CompilerServices;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server.Auth;
using HttpKv.Server.Leases;
using HttpKv.Server.Watch;
using Mvccpb;
using V3Electionpb;
using V3Lockpb;

namespace HttpKv.Server.Concurrency;

/// <summary>etcd's Lock service (v3lockpb) as every interface calls it. The caller is the one the door admitted: the
/// writes made for it carry its auth revision, as <see cref="IKvService"/>'s do.</summary>
public interface ILockService
{
    Task<LockResponse> LockAsync(LockRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<UnlockResponse> UnlockAsync(UnlockRequest request, AuthInfo? caller, CancellationToken cancellationToken);
}

/// <summary>etcd's Election service (v3electionpb) as every interface calls it; the calls that write name their caller,
/// as <see cref="ILockService"/>'s.</summary>
public interface IElectionService
{
    Task<CampaignResponse> CampaignAsync(CampaignRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<ProclaimResponse> ProclaimAsync(ProclaimRequest request, AuthInfo? caller, CancellationToken cancellationToken);
    Task<LeaderResponse> LeaderAsync(LeaderRequest request, CancellationToken cancellationToken);
    IAsyncEnumerable<LeaderResponse> ObserveAsync(LeaderRequest request, CancellationToken cancellationToken);
    Task<ResignResponse> ResignAsync(ResignRequest request, AuthInfo? caller, CancellationToken cancellationToken);
}

/// <summary>
/// The Lock and Election services, built as etcd builds them: on the KV service and the watch hub, with the recipes
/// of etcd's clientv3/concurrency package. A lock or a candidate is the key <c>name/&lt;lease hex&gt;</c>, created
/// (attached to the caller's lease) if it does not exist; the owner is the key under <c>name/</c> with the smallest
/// create revision, and a waiter waits for the deletion of each key created before its own.
/// With lease 0, Lock and Campaign grant a lease of <see cref="SessionTtlSeconds"/> and never keep it alive, as
/// etcd's v3lock and v3election servers open (and orphan) a session. An empty name is the name "" (prefix "/"), as
/// etcd. Every error reaches the client with gRPC code Unknown (HTTP 500) and etcd's text, because etcd's services
/// relay what their internal client returned (docs/leases.md).
/// </summary>
public sealed class ConcurrencyServer(MemberHost host, IKvService kv, ILeaseService leases) : ILockService, IElectionService
{
    /// <summary>The TTL of the lease a Lock or Campaign with lease 0 gets (etcd's default session TTL).</summary>
    public const long SessionTtlSeconds = 60;

    public Task<LockResponse> LockAsync(LockRequest request, AuthInfo? caller, CancellationToken cancellationToken) =>
        RelayedAsync(async () =>
        {
            ArgumentNullException.ThrowIfNull(request);
            var lease = await SessionLeaseAsync(request.Lease, cancellationToken);
            var (key, revision) = await CreateAsync(request.Name, lease, ByteString.Empty, caller, cancellationToken);
            await WaitForPredecessorsAsync(key, revision, caller, cancellationToken);
            return new LockResponse { Header = await HeaderAsync(), Key = key };
        });

    public Task<UnlockResponse> UnlockAsync(UnlockRequest request, AuthInfo? caller, CancellationToken cancellationToken) =>
        RelayedAsync(async () =>
        {
            ArgumentNullException.ThrowIfNull(request);
            var response = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = request.Key }, caller, cancellationToken);
            return new UnlockResponse { Header = response.Header };
        });

    public Task<CampaignResponse> CampaignAsync(CampaignRequest request, AuthInfo? caller, CancellationToken cancellationToken) =>
        RelayedAsync(async () =>
        {
            ArgumentNullException.ThrowIfNull(request);
            var lease = await SessionLeaseAsync(request.Lease, cancellationToken);
            var (key, revision) = await CreateAsync(request.Name, lease, request.Value, caller, cancellationToken);
            await WaitForPredecessorsAsync(key, revision, caller, cancellationToken);
            return new CampaignResponse
            {
                Header = await HeaderAsync(),
                Leader = new LeaderKey { Name = request.Name, Key = key, Rev = revision, Lease = lease },
            };
        });

    public Task<ProclaimResponse> ProclaimAsync(ProclaimRequest request, AuthInfo? caller, CancellationToken cancellationToken) =>
        RelayedAsync(() => ProclaimCoreAsync(request, caller, cancellationToken));

    /// <summary>etcd's services answer whatever their internal client got as a plain error: code Unknown, same text.
    /// On the gateway the original error's HTTP status stays (etcd's says 500 for all; a client's mistake is a 4xx).</summary>
    private static async Task<T> RelayedAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (EtcdException exception) when (exception.Error.Code != StatusCode.Unknown)
        {
            throw new EtcdError(exception.Error.Message, StatusCode.Unknown) { HttpStatus = exception.Error.HttpStatus ?? EtcdErrors.GatewayHttpStatus(exception.Error.Code) }.ToException();
        }
    }

    /// <summary>The caller's lease, or, for 0, a new lease of <see cref="SessionTtlSeconds"/> that nobody keeps alive.</summary>
    private async Task<long> SessionLeaseAsync(long lease, CancellationToken cancellationToken)
    {
        if (lease != 0) return lease;
        var granted = await leases.GrantAsync(new LeaseGrantRequest { TTL = SessionTtlSeconds }, cancellationToken);
        return granted.ID;
    }

    private async Task<ProclaimResponse> ProclaimCoreAsync(ProclaimRequest request, AuthInfo? caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Leader is null) throw EtcdErrors.MissingLeaderKey.ToException();
        var txn = new TxnRequest();
        txn.Compare.Add(CreateRevisionIs(request.Leader.Key, request.Leader.Rev));
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = request.Leader.Key, Value = request.Value, Lease = request.Leader.Lease } });
        var response = await kv.TxnAsync(txn, caller, cancellationToken);
        if (!response.Succeeded) throw EtcdErrors.ElectionNotLeader.ToException();
        return new ProclaimResponse { Header = response.Header };
    }

    public Task<LeaderResponse> LeaderAsync(LeaderRequest request, CancellationToken cancellationToken) =>
        RelayedAsync(async () =>
        {
            ArgumentNullException.ThrowIfNull(request);
            var response = await FirstCreatedAsync(Prefix(request.Name), cancellationToken);
            if (response.Kvs.Count == 0) throw EtcdErrors.ElectionNoLeader.ToException();
            return new LeaderResponse { Header = response.Header, Kv = response.Kvs[0] };
        });

    /// <summary>The leader now and each change of it, as etcd's Election.Observe: a new value of the leader key,
    /// or, once it is deleted, the next leader.</summary>
    public async IAsyncEnumerable<LeaderResponse> ObserveAsync(LeaderRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prefix = Prefix(request.Name);
        var member = await host.Ready;
        while (!cancellationToken.IsCancellationRequested)
        {
            var response = await FirstCreatedAsync(prefix, cancellationToken);
            if (response.Kvs.Count == 0)
            {
                // No leader: wait for a put under the prefix, then look again.
                using var any = member.Watches.Watch(new WatchSpec(prefix.ToByteArray(), PrefixEnd(prefix), response.Header.Revision + 1, NoDelete: true));
                await any.ReadAsync(cancellationToken);
                continue;
            }
            var leader = response.Kvs[0];
            yield return new LeaderResponse { Header = response.Header, Kv = leader };
            using var watcher = member.Watches.Watch(new WatchSpec(leader.Key.ToByteArray(), [], response.Header.Revision + 1));
            var deleted = false;
            while (!deleted)
            {
                var batch = await watcher.ReadAsync(cancellationToken);
                if (batch is null || batch.CompactRevision != 0) break;
                foreach (var change in batch.Events)
                {
                    if (change.Type == Event.Types.EventType.Delete)
                    {
                        deleted = true;
                        break;
                    }
                    if (change.Kv.CreateRevision != leader.CreateRevision) break;
                    yield return new LeaderResponse { Header = member.Header(batch.Revision), Kv = change.Kv };
                }
            }
        }
    }

    public Task<ResignResponse> ResignAsync(ResignRequest request, AuthInfo? caller, CancellationToken cancellationToken) =>
        RelayedAsync(async () =>
        {
            ArgumentNullException.ThrowIfNull(request);
            if (request.Leader is null) throw EtcdErrors.MissingLeaderKey.ToException();
            var txn = new TxnRequest();
            txn.Compare.Add(CreateRevisionIs(request.Leader.Key, request.Leader.Rev));
            txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = request.Leader.Key } });
            var response = await kv.TxnAsync(txn, caller, cancellationToken);
            return new ResignResponse { Header = response.Header };
        });

    /// <summary>Creates <c>name/&lt;lease hex&gt;</c> unless it exists (then keeps it, with the new value if one differs,
    /// as a re-campaign proclaims it); returns the key and its create revision.</summary>
    private async Task<(ByteString Key, long CreateRevision)> CreateAsync(ByteString name, long lease, ByteString value, AuthInfo? caller,
        CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFrom([.. name.Span, .. "/"u8, .. System.Text.Encoding.ASCII.GetBytes(lease.ToString("x"))]);
        var txn = new TxnRequest();
        txn.Compare.Add(CreateRevisionIs(key, 0));
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = value, Lease = lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
        var response = await kv.TxnAsync(txn, caller, cancellationToken);
        if (response.Succeeded) return (key, response.Header.Revision);
        var existing = response.Responses[0].ResponseRange.Kvs[0];
        if (!existing.Value.Equals(value) && !value.IsEmpty)
            await kv.PutAsync(new PutRequest { Key = key, Value = value, Lease = lease }, caller, cancellationToken);
        return (key, existing.CreateRevision);
    }

    /// <summary>etcd's waitDeletes: until no key under the prefix was created before <paramref name="revision"/>,
    /// wait for the deletion of the last one created before it. Cancelled, it deletes the waiter's own key.</summary>
    private async Task WaitForPredecessorsAsync(ByteString key, long revision, AuthInfo? caller, CancellationToken cancellationToken)
    {
        var slash = key.Span.LastIndexOf((byte)'/');
        var prefix = ByteString.CopyFrom(key.Span[..(slash + 1)]);
        try
        {
            var member = await host.Ready;
            while (true)
            {
                var response = await kv.RangeAsync(new RangeRequest
                {
                    Key = prefix, RangeEnd = ByteString.CopyFrom(PrefixEnd(prefix)), MaxCreateRevision = revision - 1, Limit = 1,
                    SortTarget = RangeRequest.Types.SortTarget.Create, SortOrder = RangeRequest.Types.SortOrder.Descend,
                }, cancellationToken);
                if (response.Kvs.Count == 0) return;
                using var watcher = member.Watches.Watch(new WatchSpec(response.Kvs[0].Key.ToByteArray(), [], response.Header.Revision + 1, NoPut: true));
                while (true)
                {
                    var batch = await watcher.ReadAsync(cancellationToken);
                    if (batch is null || batch.CompactRevision != 0 || batch.Events.Count > 0) break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = key }, caller, CancellationToken.None);
            throw;
        }
    }

    private Task<RangeResponse> FirstCreatedAsync(ByteString prefix, CancellationToken cancellationToken) =>
        kv.RangeAsync(new RangeRequest
        {
            Key = prefix, RangeEnd = ByteString.CopyFrom(PrefixEnd(prefix)), Limit = 1,
            SortTarget = RangeRequest.Types.SortTarget.Create, SortOrder = RangeRequest.Types.SortOrder.Ascend,
        }, cancellationToken);

    private async Task<ResponseHeader> HeaderAsync()
    {
        var member = await host.Ready;
        return member.CurrentHeader();
    }

    private static Compare CreateRevisionIs(ByteString key, long revision) => new()
    {
        Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = revision,
    };

    private static ByteString Prefix(ByteString name) => ByteString.CopyFrom([.. name.Span, .. "/"u8]);

    /// <summary>The end of the range of keys starting with <paramref name="prefix"/> (etcd's GetPrefixRangeEnd).</summary>
    private static byte[] PrefixEnd(ByteString prefix)
    {
        var end = prefix.ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }
        return [0];
    }
}
