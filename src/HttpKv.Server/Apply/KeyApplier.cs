using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Apply;

/// <summary>The key space: puts, deletes, transactions and compaction applied to the MVCC store (leases attached
/// through the batch's <see cref="ApplyBatch.Leases"/>). An etcd error of the request (a missing lease, a compacted
/// revision) is its answer, not a failure of the batch.</summary>
public sealed class KeyApplier : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        try
        {
            var applied = batch.Apply(index, request);
            if (IsKeyWrite(request)) Metrics.ServerMetrics.CountApplied(applied, request.Put);
            return applied;
        }
        catch (EtcdException exception)
        {
            return exception;
        }
    }

    /// <summary>A put, delete or transaction: the client requests that write keys (compaction is not one).</summary>
    public static bool IsKeyWrite(LogRequest request) =>
        request.RequestCase is LogRequest.RequestOneofCase.Put or LogRequest.RequestOneofCase.DeleteRange or LogRequest.RequestOneofCase.Txn;
}
