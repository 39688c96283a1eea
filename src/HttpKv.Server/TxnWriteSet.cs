using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;

namespace HttpKv.Server;

/// <summary>The keys one branch of a txn writes, to refuse a branch that writes a key twice, exactly as etcd's
/// checkIntervals does: this level's deletes are collected first; then each nested txn in order adds the puts of
/// its success and failure branches (a key put in both branches is fine, as only one runs; a put covered by a
/// delete collected so far, or put by an earlier op, is a duplicate) and then their deletes; last, this level's puts.
/// So a nested txn's put is not checked against a delete of a later nested txn, nor against a delete in its own
/// other branch. A delete's range is taken literally, as etcd's interval tree does: a range_end of "\0" (from key)
/// covers no key here, so such a delete never conflicts with a put.</summary>
internal sealed class TxnWriteSet
{
    private readonly HashSet<ByteString> puts = [];
    private readonly List<(ByteString Key, ByteString End)> deletes = [];

    public static TxnWriteSet Collect(IEnumerable<RequestOp> ops)
    {
        var list = ops as IReadOnlyList<RequestOp> ?? ops.ToList();
        var set = new TxnWriteSet();
        foreach (var op in list.Where(op => op.RequestCase == RequestOp.RequestOneofCase.RequestDeleteRange))
        {
            set.deletes.Add((op.RequestDeleteRange.Key, op.RequestDeleteRange.RangeEnd));
        }
        foreach (var op in list.Where(op => op.RequestCase == RequestOp.RequestOneofCase.RequestTxn))
        {
            var success = Collect(op.RequestTxn.Success);
            var failure = Collect(op.RequestTxn.Failure);
            foreach (var key in success.puts) set.AddPut(key, alreadyPutIsDuplicate: true);
            foreach (var key in failure.puts) set.AddPut(key, alreadyPutIsDuplicate: !success.puts.Contains(key));
            set.deletes.AddRange(success.deletes);
            set.deletes.AddRange(failure.deletes);
        }
        foreach (var op in list.Where(op => op.RequestCase == RequestOp.RequestOneofCase.RequestPut))
        {
            set.AddPut(op.RequestPut.Key, alreadyPutIsDuplicate: true);
        }
        return set;
    }

    private void AddPut(ByteString key, bool alreadyPutIsDuplicate)
    {
        if ((puts.Contains(key) && alreadyPutIsDuplicate) || deletes.Any(delete => Covers(delete, key)))
            throw EtcdErrors.DuplicateKey.ToException();
        puts.Add(key);
    }

    private static bool Covers((ByteString Key, ByteString End) range, ByteString key) =>
        range.End.IsEmpty
            ? range.Key.Equals(key)
            : Compare(key, range.Key) >= 0 && Compare(key, range.End) < 0;

    private static int Compare(ByteString left, ByteString right) => left.Span.SequenceCompareTo(right.Span);
}
