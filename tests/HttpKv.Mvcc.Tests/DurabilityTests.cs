using Etcdserverpb;
using static Etcdserverpb.RangeRequest.Types;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class DurabilityTests
{
    private static readonly RangeRequest[] Probes =
    [
        new() { Key = B("\0"), RangeEnd = B("\0") },
        new() { Key = B("\0"), RangeEnd = B("\0"), Revision = 4 },
        new() { Key = B("\0"), RangeEnd = B("\0"), Revision = 8 },
        new() { Key = B("k"), RangeEnd = B("l"), SortTarget = SortTarget.Mod, SortOrder = SortOrder.Descend, Limit = 2 },
        new() { Key = B("k1") },
        new() { Key = B("\0"), RangeEnd = B("\0"), CountOnly = true, Revision = 6 },
    ];

    private static string Answers(TestStore t) => string.Join("\n", Probes.Select(probe =>
    {
        var response = t.Store.Range(probe);
        return $"{t.Dump(response)} more={response.More} count={response.Count}";
    }));

    private static void Write(TestStore t)
    {
        t.Put("k1", "a");
        t.Put("k2", "b");
        t.Put("k1", "c");
        t.Delete("k2");
        t.Txn(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("k3"), Value = B("d") } },
                new RequestOp { RequestPut = new PutRequest { Key = B("k2"), Value = B("e") } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("k1") } },
            },
        });
        t.Put("k1", "f");
        t.Put("z", "g");
        t.Put("k3", "h");
    }

    [Fact]
    public void Reopen_rebuilds_the_same_state()
    {
        using var t = new TestStore();
        Write(t);
        var before = Answers(t);
        var (revision, index) = (t.Store.CurrentRevision, t.Store.ConsistentIndex);
        var hash = t.Store.HashKv(0, out _);
        t.Reopen();
        Assert.Equal(before, Answers(t));
        Assert.Equal(revision, t.Store.CurrentRevision);
        Assert.Equal(index, t.Store.ConsistentIndex);
        Assert.Equal(hash, t.Store.HashKv(0, out _));
        Assert.Equal(9, revision);
        Assert.Equal(8ul, index);
    }

    [Fact]
    public void Reopen_after_sync_and_compaction_rebuilds_the_same_state()
    {
        using var t = new TestStore();
        Write(t);
        t.Compact(4);
        t.Store.Sync();
        var before = Answers(t);
        t.Reopen();
        Assert.Equal(before, Answers(t));
        Assert.Equal(4, t.Store.CompactedRevision);
        Assert.Equal(9ul, t.Store.ConsistentIndex);
    }

    [Fact]
    public void Consistent_index_advances_with_entries_that_carry_no_request()
    {
        using var t = new TestStore();
        using (var batch = t.Store.BeginApply())
        {
            batch.MarkApplied(5);
            batch.Commit();
        }
        Assert.Equal(5ul, t.Store.ConsistentIndex);
        Assert.Equal(1, t.Store.CurrentRevision);
        t.Reopen();
        Assert.Equal(5ul, t.Store.ConsistentIndex);
    }

    [Fact]
    public void Only_one_batch_at_a_time()
    {
        using var t = new TestStore();
        using var batch = t.Store.BeginApply();
        Assert.Throws<InvalidOperationException>(() => t.Store.BeginApply());
        batch.Commit();
        using var next = t.Store.BeginApply();
    }
}
