using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server;

/// <summary>etcd's backend quota (<c>--quota-backend-bytes</c>): a request that could grow the database is refused
/// with "database space exceeded" when the file's size plus the request's estimated cost would pass the quota, and the
/// member raises the NOSPACE alarm, after which the whole cluster refuses such requests until an operator compacts,
/// defragments and disarms the alarm. The cost is etcd's estimate: key and value plus a fixed overhead per put
/// (the larger branch of a transaction), a fixed overhead per lease grant; anything else costs nothing.</summary>
public sealed class BackendQuota(long quotaBackendBytes)
{
    private const int KeyValueOverhead = 256;
    private const int LeaseOverhead = 64;

    /// <summary>The quota in bytes: etcd's 2 GiB when the flag is 0, no quota when it is negative.</summary>
    public long LimitBytes { get; } = quotaBackendBytes switch
    {
        < 0 => long.MaxValue,
        0 => MemberOptions.DefaultQuotaBackendBytes,
        _ => quotaBackendBytes,
    };

    /// <summary>What etcd's quota gauge reports: the quota in bytes, or the flag's negative value when there is none.</summary>
    public long ReportedBytes => LimitBytes == long.MaxValue ? quotaBackendBytes : LimitBytes;

    public static long Cost(LogRequest request) => request.RequestCase switch
    {
        LogRequest.RequestOneofCase.Put => Cost(request.Put),
        LogRequest.RequestOneofCase.Txn => Cost(request.Txn),
        LogRequest.RequestOneofCase.LeaseGrant => LeaseOverhead,
        _ => 0,
    };

    private static long Cost(PutRequest put) => KeyValueOverhead + put.Key.Length + put.Value.Length;

    private static long Cost(TxnRequest txn) => Math.Max(Cost(txn.Success), Cost(txn.Failure));

    private static long Cost(IEnumerable<RequestOp> ops) => ops.Sum(op => op.RequestCase switch
    {
        RequestOp.RequestOneofCase.RequestPut => Cost(op.RequestPut),
        RequestOp.RequestOneofCase.RequestTxn => Cost(op.RequestTxn),
        _ => 0L,
    });

    /// <summary>Whether a request of <paramref name="cost"/> fits beside <paramref name="sizeBytes"/> already used.</summary>
    public bool Fits(long sizeBytes, long cost) => cost == 0 || sizeBytes + cost < LimitBytes;

    /// <summary>Throws "database space exceeded" after raising the NOSPACE alarm (as etcd, whatever the alarm's
    /// proposal answers) unless <paramref name="request"/> fits.</summary>
    public async Task CheckAsync(Member member, LogRequest request, CancellationToken cancellationToken)
    {
        var cost = Cost(request);
        if (Fits(member.Stores.Current.Size, cost)) return;
        var alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = member.Identity.MemberId, Alarm = AlarmType.Nospace };
        try
        {
            await member.Log.ProposeAsync(new LogRequest { Alarm = alarm }, cancellationToken);
        }
        catch (EtcdException)
        {
            // etcd answers "database space exceeded" whether or not the alarm could be raised now.
        }
        throw EtcdErrors.NoSpace.ToException();
    }
}
