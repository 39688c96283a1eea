using Etcdserverpb;
using Mvccpb;

namespace HttpKv.Mvcc;

/// <summary>etcd's txn compare: every key in [key, range_end) must satisfy it. With no key, VALUE compares fail
/// and the others compare against zero (a missing key has version, create, mod revision and lease 0).
/// Unknown targets and results (numbers outside the enums reach the applier unchecked) never throw: the apply
/// loop must not fail on a client's input; they answer as etcd's compareKV does.</summary>
internal static class TxnCompare
{
    public static bool Holds(TreeIndex index, Compare compare, long at, IValueSource values)
    {
        var revisions = new List<Revision>();
        index.Lock.EnterReadLock();
        try
        {
            foreach (var keyIndex in index.Scan(compare.Key.Memory, compare.RangeEnd.Memory))
            {
                if (keyIndex.TryGet(at, out var modified, out _, out _)) revisions.Add(modified);
            }
        }
        finally
        {
            index.Lock.ExitReadLock();
        }
        if (revisions.Count == 0) return compare.Target != Compare.Types.CompareTarget.Value && Holds(compare, new KeyValue());
        return revisions.All(revision => Holds(compare, values.Load(revision)));
    }

    private static bool Holds(Compare compare, KeyValue kv)
    {
        var order = compare.Target switch
        {
            Compare.Types.CompareTarget.Value => Math.Sign(kv.Value.Span.SequenceCompareTo(compare.Value.Span)),
            Compare.Types.CompareTarget.Create => kv.CreateRevision.CompareTo(compare.CreateRevision),
            Compare.Types.CompareTarget.Mod => kv.ModRevision.CompareTo(compare.ModRevision),
            Compare.Types.CompareTarget.Version => kv.Version.CompareTo(compare.Version),
            Compare.Types.CompareTarget.Lease => kv.Lease.CompareTo(compare.Lease),
            _ => 0, // etcd's compareKV: an unknown target compares as equal
        };
        return compare.Result switch
        {
            Compare.Types.CompareResult.Equal => order == 0,
            Compare.Types.CompareResult.NotEqual => order != 0,
            Compare.Types.CompareResult.Greater => order > 0,
            Compare.Types.CompareResult.Less => order < 0,
            _ => true, // etcd's compareKV: an unknown result holds
        };
    }
}
