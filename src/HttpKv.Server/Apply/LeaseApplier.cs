using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Leases;

namespace HttpKv.Server.Apply;

/// <summary>Lease grants, revokes and checkpoints, applied to the member's <see cref="Lessor"/>.</summary>
public sealed class LeaseApplier(Lessor lessor) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request) => request.RequestCase switch
    {
        LogRequest.RequestOneofCase.LeaseGrant => lessor.ApplyGrant(batch, index, request.LeaseGrant),
        LogRequest.RequestOneofCase.LeaseRevoke => lessor.ApplyRevoke(batch, index, request.LeaseRevoke),
        LogRequest.RequestOneofCase.LeaseCheckpoint => lessor.ApplyCheckpoint(batch, index, request.LeaseCheckpoint),
        _ => throw new ArgumentException($"not a lease request: {request.RequestCase}", nameof(request)),
    };
}
