using Etcdserverpb;
using HttpKv.Protocol;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class WriteTests
{
    [Fact]
    public void New_store_is_at_revision_1_with_nothing_compacted()
    {
        using var t = new TestStore();
        Assert.Equal(1, t.Store.CurrentRevision);
        Assert.Equal(0, t.Store.CompactedRevision);
        Assert.Equal(0ul, t.Store.ConsistentIndex);
        Assert.Empty(t.Get("a", "\0").Kvs);
    }

    [Fact]
    public void Each_put_is_one_revision_and_versions_count_within_a_life()
    {
        using var t = new TestStore();
        Assert.Equal(2, t.Put("a", "1").Header.Revision);
        Assert.Equal(3, t.Put("a", "2").Header.Revision);
        Assert.Equal(4, t.Put("b", "1").Header.Revision);
        Assert.Equal("a=2@3/2/2 b=1@4/4/1", t.Dump(t.Get("a", "\0")));
        Assert.Equal(4, t.Store.CurrentRevision);
        Assert.Equal(3ul, t.Store.ConsistentIndex);
    }

    [Fact]
    public void Delete_leaves_history_and_a_new_put_starts_a_new_generation()
    {
        using var t = new TestStore();
        t.Put("a", "1");                       // 2
        t.Put("a", "2");                       // 3
        var deleted = t.Delete("a");           // 4
        Assert.Equal(1, deleted.Deleted);
        Assert.Equal(4, deleted.Header.Revision);
        t.Put("a", "3");                       // 5
        Assert.Equal("a=3@5/5/1", t.Dump(t.Get("a")));
        Assert.Equal("a=2@3/2/2", t.Dump(t.Get("a", revision: 3)));
        Assert.Empty(t.Get("a", revision: 4).Kvs);
        Assert.Equal("a=1@2/2/1", t.Dump(t.Get("a", revision: 2)));
        Assert.Empty(t.Get("a", revision: 1).Kvs);
    }

    [Fact]
    public void Requests_that_change_nothing_do_not_advance_the_revision()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        var delete = t.Delete("missing");
        Assert.Equal(0, delete.Deleted);
        Assert.Equal(2, delete.Header.Revision);
        var readOnly = t.Txn(new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("a") } } } });
        Assert.Equal(2, readOnly.Header.Revision);
        var deleteInTxn = t.Txn(new TxnRequest { Success = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("zz") } } } });
        Assert.Equal(2, deleteInTxn.Header.Revision);
        Assert.Equal(2, t.Store.CurrentRevision);
        Assert.Equal(4ul, t.Store.ConsistentIndex); // applied entries still count
    }

    [Fact]
    public void Put_prev_kv_returns_the_previous_value_only_when_asked()
    {
        using var t = new TestStore();
        Assert.Null(t.Put("a", "1", prevKv: true).PrevKv);
        var second = t.Put("a", "2", prevKv: true);
        Assert.Equal("1", S(second.PrevKv.Value));
        Assert.Equal(2, second.PrevKv.ModRevision);
        Assert.Null(t.Put("a", "3").PrevKv);
    }

    [Fact]
    public void Put_ignore_value_keeps_the_value_and_bumps_the_version()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        var response = t.Put(new PutRequest { Key = B("a"), IgnoreValue = true });
        Assert.Equal(3, response.Header.Revision);
        Assert.Equal("a=1@3/2/2", t.Dump(t.Get("a")));
        var ignoreLease = t.Put(new PutRequest { Key = B("a"), Value = B("x"), IgnoreLease = true });
        Assert.Equal(4, ignoreLease.Header.Revision);
        Assert.Equal("a=x@4/2/3", t.Dump(t.Get("a")));
    }

    public static TheoryData<string, PutRequest, string> FailingPuts => new()
    {
        { "ignore_value on a missing key", new PutRequest { Key = B("missing"), IgnoreValue = true }, EtcdErrors.KeyNotFound.Message },
        { "ignore_lease on a missing key", new PutRequest { Key = B("missing"), Value = B("v"), IgnoreLease = true }, EtcdErrors.KeyNotFound.Message },
        { "a lease that does not exist", new PutRequest { Key = B("a"), Value = B("v"), Lease = 5 }, EtcdErrors.LeaseNotFound.Message },
        { "a lease on a missing key with ignore_value", new PutRequest { Key = B("missing"), IgnoreValue = true, Lease = 5 }, EtcdErrors.LeaseNotFound.Message },
    };

    [Theory]
    [MemberData(nameof(FailingPuts))]
    public void Failing_put_returns_etcds_error_and_changes_nothing(string because, PutRequest put, string error)
    {
        using var t = new TestStore();
        t.Put("a", "1");
        Assert.Equal(error, ErrorOf(() => t.Put(put)).Message);
        Assert.Equal(2, t.Store.CurrentRevision);
        Assert.Equal("a=1@2/2/1", t.Dump(t.Get("", "\0")));
        Assert.False(string.IsNullOrEmpty(because));
    }

    [Fact]
    public void Delete_range_counts_and_returns_prev_kvs()
    {
        using var t = new TestStore();
        foreach (var key in new[] { "a", "b", "c", "d" }) t.Put(key, key + "v");
        var response = t.Delete("b", "d", prevKv: true);
        Assert.Equal(2, response.Deleted);
        Assert.Equal(["bv", "cv"], response.PrevKvs.Select(kv => S(kv.Value)));
        Assert.Equal(6, response.Header.Revision);
        Assert.Equal("a=av@2/2/1 d=dv@5/5/1", t.Dump(t.Get("a", "\0")));
        var rest = t.Delete("a", "\0");
        Assert.Equal(2, rest.Deleted);
        Assert.Empty(rest.PrevKvs);
        Assert.Equal(7, t.Store.CurrentRevision);
    }

    [Fact]
    public void Deletes_in_one_request_share_a_revision_and_take_sub_revisions()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        t.Put("b", "1");
        t.Delete("a", "c");
        t.Put("a", "2");
        Assert.Equal("a=2@5/5/1", t.Dump(t.Get("a", "c")));
        Assert.Equal("a=1@2/2/1 b=1@3/3/1", t.Dump(t.Get("a", "c", revision: 3)));
        Assert.Empty(t.Get("a", "c", revision: 4).Kvs);
    }

    [Fact]
    public void Apply_refuses_an_index_that_is_not_after_the_consistent_index()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        using var batch = t.Store.BeginApply();
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Apply(1, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = B("b") } }));
    }

    [Fact]
    public void A_batch_disposed_without_commit_leaves_no_trace()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        using (var batch = t.Store.BeginApply())
        {
            batch.Apply(10, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = B("a"), Value = B("2") } });
            batch.Apply(11, new HttpKv.Protocol.Internal.LogRequest { DeleteRange = new DeleteRangeRequest { Key = B("a") } });
            batch.Apply(12, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = B("new"), Value = B("x") } });
            Assert.Equal(5, batch.CurrentRevision);
            Assert.Equal(2, t.Store.CurrentRevision); // readers see nothing yet
            Assert.Equal("a=1@2/2/1", t.Dump(t.Get("", "\0")));
        }
        Assert.Equal(2, t.Store.CurrentRevision);
        Assert.Equal(1ul, t.Store.ConsistentIndex);
        Assert.Equal("a=1@2/2/1", t.Dump(t.Get("", "\0")));
        t.Put("a", "3"); // the abandoned revisions are reused
        Assert.Equal("a=3@3/2/2", t.Dump(t.Get("", "\0")));
    }

    [Fact]
    public void Several_entries_in_one_batch_commit_together()
    {
        using var t = new TestStore();
        using (var batch = t.Store.BeginApply())
        {
            var first = (PutResponse)batch.Apply(1, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = B("a"), Value = B("1") } });
            var second = (PutResponse)batch.Apply(2, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = B("a"), Value = B("2"), PrevKv = true } });
            Assert.Equal(2, first.Header.Revision);
            Assert.Equal(3, second.Header.Revision);
            Assert.Equal("1", S(second.PrevKv.Value)); // a batch reads its own earlier writes
            batch.Commit();
        }
        Assert.Equal("a=2@3/2/2", t.Dump(t.Get("a")));
        Assert.Equal(2ul, t.Store.ConsistentIndex);
    }
}

public sealed class EventTests
{
    [Fact]
    public void A_batch_lists_its_changes_as_watch_events()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        using var batch = t.Store.BeginApply();
        batch.Apply(2, new HttpKv.Protocol.Internal.LogRequest { Put = new PutRequest { Key = TestStore.B("a"), Value = TestStore.B("2") } });
        batch.Apply(3, new HttpKv.Protocol.Internal.LogRequest { DeleteRange = new DeleteRangeRequest { Key = TestStore.B("a"), RangeEnd = TestStore.B("\0") } });
        batch.Apply(4, new HttpKv.Protocol.Internal.LogRequest { DeleteRange = new DeleteRangeRequest { Key = TestStore.B("missing") } });
        batch.Commit();
        Assert.Equal(
            "Put a=2@3/2/2 Delete a=@4/0/0",
            string.Join(" ", batch.Events.Select(e => $"{e.Type} {TestStore.S(e.Kv.Key)}={TestStore.S(e.Kv.Value)}@{e.Kv.ModRevision}/{e.Kv.CreateRevision}/{e.Kv.Version}")));
    }
}
