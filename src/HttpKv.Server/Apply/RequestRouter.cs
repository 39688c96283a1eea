using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Apply;

/// <summary>Hands each request to the applier of its domain: leases, auth, alarms, membership, and the key space for
/// everything else (puts, deletes, transactions, compaction).</summary>
public sealed class RequestRouter(IApplier keys, IApplier leases, IApplier auth, IApplier alarms, IApplier membership) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request) => For(request.RequestCase).Apply(batch, index, request);

    private IApplier For(LogRequest.RequestOneofCase kind) => kind switch
    {
        LogRequest.RequestOneofCase.LeaseGrant or LogRequest.RequestOneofCase.LeaseRevoke or LogRequest.RequestOneofCase.LeaseCheckpoint => leases,
        LogRequest.RequestOneofCase.Auth => auth,
        LogRequest.RequestOneofCase.Alarm => alarms,
        LogRequest.RequestOneofCase.MemberAttributes or LogRequest.RequestOneofCase.MemberUpdate => membership,
        _ => keys,
    };
}
