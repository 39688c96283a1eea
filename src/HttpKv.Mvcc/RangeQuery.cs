using System.Buffers;
using Etcdserverpb;
using HttpKv.Protocol;
using Mvccpb;

namespace HttpKv.Mvcc;

/// <summary>Where a range reads a revision's stored KeyValue: a backend snapshot, or an apply batch's
/// not-yet-committed writes over one. Each call returns an instance the caller may modify.</summary>
internal interface IValueSource
{
    KeyValue Load(Revision revision);
}

/// <summary>The index half of a range, taken under the index lock: the revisions to load (the first
/// <see cref="Count"/> of a pooled array, returned by <see cref="RangeQuery.Execute"/>) and the total count.</summary>
internal readonly record struct RangePlan(Revision[] Revisions, int Count, long Total);

/// <summary>etcd's Range (mvcc rangeKeys plus the v3 applier's filters, sort and limit).</summary>
internal static class RangeQuery
{
    /// <summary>Checks the revision and picks the revisions; caller holds the index's read lock (or is the writer).</summary>
    public static RangePlan Plan(TreeIndex index, RangeRequest request, long currentRevision, long compactedRevision)
    {
        if (request.Revision > currentRevision) throw EtcdErrors.FutureRevision.ToException();
        var at = request.Revision <= 0 ? currentRevision : request.Revision;
        if (at < compactedRevision) throw EtcdErrors.Compacted.ToException();
        var limit = NeedsAll(request) ? 0 : request.Limit;
        if (limit > 0) limit++; // one extra tells whether there is more
        // Pooled and grown by doubling: a large range would otherwise leave every smaller array of a List behind.
        var revisions = ArrayPool<Revision>.Shared.Rent(limit > 0 ? (int)Math.Min(limit, 1024) : 64);
        var count = 0;
        long total = 0;
        foreach (var keyIndex in index.Scan(request.Key.Memory, request.RangeEnd.Memory))
        {
            if (!keyIndex.TryGet(at, out var modified, out _, out _)) continue;
            total++;
            if (request.CountOnly || (limit > 0 && count >= limit)) continue;
            if (count == revisions.Length)
            {
                var larger = ArrayPool<Revision>.Shared.Rent(count * 2);
                revisions.AsSpan(0, count).CopyTo(larger);
                ArrayPool<Revision>.Shared.Return(revisions);
                revisions = larger;
            }
            revisions[count++] = modified;
        }
        return new RangePlan(revisions, count, total);
    }

    /// <summary>Loads, filters, sorts and truncates; returns the plan's array to the pool. Header is left null.</summary>
    public static RangeResponse Execute(RangePlan plan, RangeRequest request, IValueSource source)
    {
        try
        {
            var response = new RangeResponse { Count = plan.Total };
            if (request.CountOnly) return response;
            if (!HasFilters(request) && EffectiveOrder(request) == RangeRequest.Types.SortOrder.None)
            {
                // Key order as the index gives it: load only what is answered, straight into the response.
                var answered = request.Limit > 0 && plan.Count > request.Limit ? (int)request.Limit : plan.Count;
                response.More = answered < plan.Count;
                response.Kvs.Capacity = answered;
                for (var i = 0; i < answered; i++)
                {
                    var loaded = source.Load(plan.Revisions[i]);
                    if (request.KeysOnly) loaded.Value = Google.Protobuf.ByteString.Empty;
                    response.Kvs.Add(loaded);
                }
                return response;
            }
            var kvs = new List<KeyValue>(plan.Count);
            for (var i = 0; i < plan.Count; i++) kvs.Add(source.Load(plan.Revisions[i]));
            if (request.MaxModRevision != 0) kvs.RemoveAll(kv => kv.ModRevision > request.MaxModRevision);
            if (request.MinModRevision != 0) kvs.RemoveAll(kv => kv.ModRevision < request.MinModRevision);
            if (request.MaxCreateRevision != 0) kvs.RemoveAll(kv => kv.CreateRevision > request.MaxCreateRevision);
            if (request.MinCreateRevision != 0) kvs.RemoveAll(kv => kv.CreateRevision < request.MinCreateRevision);
            var sorted = Sort(kvs, request);
            if (request.Limit > 0 && sorted.Count > request.Limit)
            {
                sorted.RemoveRange((int)request.Limit, sorted.Count - (int)request.Limit);
                response.More = true;
            }
            if (request.KeysOnly)
            {
                foreach (var kv in sorted) kv.Value = Google.Protobuf.ByteString.Empty;
            }
            response.Kvs.AddRange(sorted);
            return response;
        }
        finally
        {
            ArrayPool<Revision>.Shared.Return(plan.Revisions);
        }
    }

    private static bool HasFilters(RangeRequest request) =>
        request.MinModRevision != 0 || request.MaxModRevision != 0 || request.MinCreateRevision != 0 || request.MaxCreateRevision != 0;

    private static bool NeedsAll(RangeRequest request) =>
        request.SortOrder != RangeRequest.Types.SortOrder.None ||
        request.MinModRevision != 0 || request.MaxModRevision != 0 ||
        request.MinCreateRevision != 0 || request.MaxCreateRevision != 0;

    /// <summary>The order to sort in: None when the index's order (key ascending) is the answer's.</summary>
    private static RangeRequest.Types.SortOrder EffectiveOrder(RangeRequest request)
    {
        var order = request.SortOrder;
        var target = request.SortTarget;
        if (target != RangeRequest.Types.SortTarget.Key && order == RangeRequest.Types.SortOrder.None) return RangeRequest.Types.SortOrder.Ascend;
        if (target == RangeRequest.Types.SortTarget.Key && order == RangeRequest.Types.SortOrder.Ascend) return RangeRequest.Types.SortOrder.None;
        return order;
    }

    /// <summary>Index order is key ascending. Like etcd, a target other than KEY with order NONE sorts ascending.
    /// Sorts are stable, so equal targets stay in key order.</summary>
    private static List<KeyValue> Sort(List<KeyValue> kvs, RangeRequest request)
    {
        var order = EffectiveOrder(request);
        var target = request.SortTarget;
        if (order == RangeRequest.Types.SortOrder.None) return kvs;
        var comparer = Comparer<KeyValue>.Create(target switch
        {
            RangeRequest.Types.SortTarget.Version => (x, y) => x.Version.CompareTo(y.Version),
            RangeRequest.Types.SortTarget.Create => (x, y) => x.CreateRevision.CompareTo(y.CreateRevision),
            RangeRequest.Types.SortTarget.Mod => (x, y) => x.ModRevision.CompareTo(y.ModRevision),
            RangeRequest.Types.SortTarget.Value => (x, y) => x.Value.Span.SequenceCompareTo(y.Value.Span),
            _ => (x, y) => x.Key.Span.SequenceCompareTo(y.Key.Span),
        });
        return order == RangeRequest.Types.SortOrder.Descend
            ? kvs.OrderByDescending(kv => kv, comparer).ToList()
            : kvs.OrderBy(kv => kv, comparer).ToList();
    }
}
