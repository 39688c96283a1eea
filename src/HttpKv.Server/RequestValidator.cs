using Etcdserverpb;
using HttpKv.Protocol;

namespace HttpKv.Server;

/// <summary>The checks etcd makes before a request reaches the log (etcd's v3rpc key checks):
/// a request that fails them is answered at once and never proposed.</summary>
public sealed class RequestValidator(int maxTxnOps)
{
    public void Check(RangeRequest request)
    {
        if (request.Key.IsEmpty) throw EtcdErrors.EmptyKey.ToException();
        if (!Enum.IsDefined(request.SortOrder) || !Enum.IsDefined(request.SortTarget))
            throw EtcdErrors.InvalidSortOption.ToException();
    }

    public void Check(PutRequest request)
    {
        if (request.Key.IsEmpty) throw EtcdErrors.EmptyKey.ToException();
        if (request.IgnoreValue && !request.Value.IsEmpty) throw EtcdErrors.ValueProvided.ToException();
        if (request.IgnoreLease && request.Lease != 0) throw EtcdErrors.LeaseProvided.ToException();
    }

    public void Check(DeleteRangeRequest request)
    {
        if (request.Key.IsEmpty) throw EtcdErrors.EmptyKey.ToException();
    }

    /// <summary>As etcd's Txn: every op is checked (nested txns too) before the duplicate-key check of each branch.</summary>
    public void Check(TxnRequest request)
    {
        CheckTxn(request, maxTxnOps);
        TxnWriteSet.Collect(request.Success);
        TxnWriteSet.Collect(request.Failure);
    }

    private void CheckTxn(TxnRequest request, int opsAllowed)
    {
        var ops = Math.Max(request.Compare.Count, Math.Max(request.Success.Count, request.Failure.Count));
        if (ops > opsAllowed) throw EtcdErrors.TooManyOps.ToException();
        foreach (var compare in request.Compare)
        {
            if (compare.Key.IsEmpty) throw EtcdErrors.EmptyKey.ToException();
        }
        foreach (var op in request.Success) CheckOp(op, opsAllowed - ops);
        foreach (var op in request.Failure) CheckOp(op, opsAllowed - ops);
    }

    private void CheckOp(RequestOp op, int opsAllowed)
    {
        switch (op.RequestCase)
        {
            case RequestOp.RequestOneofCase.RequestRange: Check(op.RequestRange); break;
            case RequestOp.RequestOneofCase.RequestPut: Check(op.RequestPut); break;
            case RequestOp.RequestOneofCase.RequestDeleteRange: Check(op.RequestDeleteRange); break;
            case RequestOp.RequestOneofCase.RequestTxn: CheckTxn(op.RequestTxn, opsAllowed); break;
            default: throw EtcdErrors.KeyNotFound.ToException(); // etcd's checkRequestOp answers an empty op so
        }
    }
}
