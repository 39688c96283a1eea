using Etcdserverpb;
using HttpKv.Protocol;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class CompactionTests
{
    /// <summary>a@2, a@3, b@4, b deleted @5, c@6, a@7.</summary>
    private static TestStore Seeded()
    {
        var t = new TestStore();
        t.Put("a", "a2");
        t.Put("a", "a3");
        t.Put("b", "b4");
        t.Delete("b");
        t.Put("c", "c6");
        t.Put("a", "a7");
        return t;
    }

    [Fact]
    public void Compaction_keeps_the_newest_revision_at_or_below_it_unless_deleted()
    {
        using var t = Seeded();
        var response = t.Compact(5);
        Assert.Equal(7, response.Header.Revision);
        Assert.Equal(5, t.Store.CompactedRevision);
        Assert.Equal(7, t.Store.CurrentRevision);
        Assert.Equal("a=a3@3/2/2", t.Dump(t.Get("", "\0", revision: 5)));
        Assert.Equal("a=a3@3/2/2 c=c6@6/6/1", t.Dump(t.Get("", "\0", revision: 6)));
        Assert.Equal("a=a7@7/2/3 c=c6@6/6/1", t.Dump(t.Get("", "\0")));
    }

    [Fact]
    public void Compaction_counts_the_revisions_it_removes_and_its_pauses_under_etcds_metric_names()
    {
        using var t = Seeded();
        // Process-wide counters other tests also move (only up): compare the change with what this compaction removes.
        var keys = HttpKv.Storage.Metrics.StorageMetrics.CompactionKeys.Value;
        var pauses = HttpKv.Storage.Metrics.StorageMetrics.CompactionPause.Count;
        var indexPauses = HttpKv.Storage.Metrics.StorageMetrics.IndexCompactionPause.Count;
        t.Compact(5); // removes a@2, b@4 and b's tombstone at 5
        Assert.True(HttpKv.Storage.Metrics.StorageMetrics.CompactionKeys.Value - keys >= 3);
        Assert.True(HttpKv.Storage.Metrics.StorageMetrics.CompactionPause.Count > pauses);
        Assert.True(HttpKv.Storage.Metrics.StorageMetrics.IndexCompactionPause.Count > indexPauses);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    [InlineData(1)]
    public void Reads_below_the_compacted_revision_fail(long revision)
    {
        using var t = Seeded();
        t.Compact(5);
        Assert.Same(EtcdErrors.Compacted, ErrorOf(() => t.Get("a", revision: revision)));
    }

    public static TheoryData<long, long, string?> Boundaries => new()
    {
        // first compaction, second compaction, expected error of the second
        { 3, 3, EtcdErrors.Compacted.Message },
        { 3, 2, EtcdErrors.Compacted.Message },
        { 3, 4, null },
        { 3, 7, null },
        { 3, 8, EtcdErrors.FutureRevision.Message },
        { 0, 1, null },
        { 7, 7, EtcdErrors.Compacted.Message },
    };

    [Theory]
    [MemberData(nameof(Boundaries))]
    public void Compaction_boundaries(long first, long second, string? error)
    {
        using var t = Seeded();
        t.Compact(first);
        if (error is null)
        {
            t.Compact(second);
            Assert.Equal(second, t.Store.CompactedRevision);
        }
        else
        {
            Assert.Equal(error, ErrorOf(() => t.Compact(second)).Message);
            Assert.Equal(first, t.Store.CompactedRevision);
        }
        Assert.Equal(7, t.Store.CurrentRevision);
    }

    [Fact]
    public void New_store_accepts_compaction_at_0_and_1_like_etcd()
    {
        using var t = new TestStore();
        t.Compact(0);
        t.Compact(1);
        Assert.Same(EtcdErrors.FutureRevision, ErrorOf(() => t.Compact(2)));
        Assert.Equal(1, t.Store.CompactedRevision);
    }

    [Fact]
    public void Versions_continue_after_compaction()
    {
        using var t = Seeded();
        t.Compact(7);
        t.Put("a", "a8");
        Assert.Equal("a=a8@8/2/4", t.Dump(t.Get("a")));
        t.Put("b", "b9");
        Assert.Equal("b=b9@9/9/1", t.Dump(t.Get("b")));
    }

    [Fact]
    public void Compaction_survives_reopen_and_removes_history_from_the_backend()
    {
        using var t = Seeded();
        t.Compact(5);
        t.Reopen();
        Assert.Equal(5, t.Store.CompactedRevision);
        Assert.Equal(7, t.Store.CurrentRevision);
        Assert.Same(EtcdErrors.Compacted, ErrorOf(() => t.Get("a", revision: 4)));
        Assert.Equal("a=a3@3/2/2", t.Dump(t.Get("", "\0", revision: 5)));
        Assert.Equal("a=a7@7/2/3 c=c6@6/6/1", t.Dump(t.Get("", "\0")));
        Assert.Same(EtcdErrors.Compacted, ErrorOf(() => t.Compact(5)));
        t.Put("b", "again");
        Assert.Equal("b=again@8/8/1", t.Dump(t.Get("b")));
    }

    [Fact]
    public void Compacting_away_a_trailing_tombstone_keeps_the_revision_on_reopen()
    {
        using var t = new TestStore();
        t.Put("x", "1");
        t.Delete("x");
        t.Compact(3);
        t.Reopen();
        Assert.Equal(3, t.Store.CurrentRevision);
        Assert.Empty(t.Get("x", revision: 3).Kvs);
        Assert.Equal(4, t.Put("y", "1").Header.Revision);
    }

    [Fact]
    public void Compaction_in_a_batch_applies_to_later_entries_of_the_same_batch()
    {
        using var t = Seeded();
        using var batch = t.Store.BeginApply();
        batch.Apply(100, new HttpKv.Protocol.Internal.LogRequest { Compaction = new CompactionRequest { Revision = 6 } });
        var txn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("a"), Revision = 5 } } } };
        var error = Assert.Throws<EtcdException>(() => batch.Apply(101, new HttpKv.Protocol.Internal.LogRequest { Txn = txn })).Error;
        Assert.Same(EtcdErrors.Compacted, error);
        Assert.Equal("a=a3@3/2/2", t.Dump(t.Get("a", revision: 5))); // readers: not compacted until commit
        batch.Commit();
        Assert.Same(EtcdErrors.Compacted, ErrorOf(() => t.Get("a", revision: 5)));
        Assert.Equal(101ul, t.Store.ConsistentIndex);
    }
}
