using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;

namespace HttpKv.Server;

/// <summary>The keys one branch of a txn writes, to refuse a branch that writes a key twice (etcd's checkIntervals):
/// two puts of one key, or a put of a key that a delete in the same branch covers. A nested txn contributes the
/// writes of both its branches, since either may run.</summary>
internal sealed class TxnWriteSet
{
    private readonly HashSet<ByteString> puts = [];
    private readonly List<(ByteString Key, ByteString End)> deletes = [];

    public static TxnWriteSet Collect(IEnumerable<RequestOp> ops)
    {
        var set = new TxnWriteSet();
        foreach (var op in ops) set.Add(op);
        foreach (var put in set.puts)
        {
            if (set.deletes.Any(delete => Covers(delete, put))) throw EtcdErrors.DuplicateKey.ToException();
        }
        return set;
    }

    private void Add(RequestOp op)
    {
        switch (op.RequestCase)
        {
            case RequestOp.RequestOneofCase.RequestPut:
                if (!puts.Add(op.RequestPut.Key)) throw EtcdErrors.DuplicateKey.ToException();
                break;
            case RequestOp.RequestOneofCase.RequestDeleteRange:
                deletes.Add((op.RequestDeleteRange.Key, op.RequestDeleteRange.RangeEnd));
                break;
            case RequestOp.RequestOneofCase.RequestTxn:
                var success = Collect(op.RequestTxn.Success);
                var failure = Collect(op.RequestTxn.Failure);
                foreach (var key in success.puts.Union(failure.puts))
                {
                    if (!puts.Add(key)) throw EtcdErrors.DuplicateKey.ToException();
                }
                deletes.AddRange(success.deletes);
                deletes.AddRange(failure.deletes);
                break;
        }
    }

    private static bool Covers((ByteString Key, ByteString End) range, ByteString key)
    {
        if (range.End.IsEmpty) return range.Key.Equals(key);
        if (range.End.Length == 1 && range.End[0] == 0) return Compare(key, range.Key) >= 0;
        return Compare(key, range.Key) >= 0 && Compare(key, range.End) < 0;
    }

    private static int Compare(ByteString left, ByteString right) => left.Span.SequenceCompareTo(right.Span);
}
