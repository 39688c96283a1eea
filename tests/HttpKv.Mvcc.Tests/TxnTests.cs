using Etcdserverpb;
using HttpKv.Protocol;
using static Etcdserverpb.Compare.Types;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class TxnTests
{
    /// <summary>a = v7 (create 2, mod 3, version 2, lease 0), b = v1 (create 4, mod 4, version 1); current revision 4.</summary>
    private static TestStore Seeded()
    {
        var t = new TestStore();
        t.Put("a", "v5");
        t.Put("a", "v7");
        t.Put("b", "v1");
        return t;
    }

    private static Compare Version(string key, CompareResult result, long version, string? end = null) =>
        new() { Key = B(key), RangeEnd = B(end), Target = CompareTarget.Version, Result = result, Version = version };

    private static Compare Create(string key, CompareResult result, long revision, string? end = null) =>
        new() { Key = B(key), RangeEnd = B(end), Target = CompareTarget.Create, Result = result, CreateRevision = revision };

    private static Compare Mod(string key, CompareResult result, long revision, string? end = null) =>
        new() { Key = B(key), RangeEnd = B(end), Target = CompareTarget.Mod, Result = result, ModRevision = revision };

    private static Compare Value(string key, CompareResult result, string value, string? end = null) =>
        new() { Key = B(key), RangeEnd = B(end), Target = CompareTarget.Value, Result = result, Value = B(value) };

    private static Compare Lease(string key, CompareResult result, long lease) =>
        new() { Key = B(key), Target = CompareTarget.Lease, Result = result, Lease = lease };

    public static TheoryData<string, Compare, bool> Compares => new()
    {
        { "version equal", Version("a", CompareResult.Equal, 2), true },
        { "version equal, other", Version("a", CompareResult.Equal, 1), false },
        { "version greater", Version("a", CompareResult.Greater, 1), true },
        { "version greater, same", Version("a", CompareResult.Greater, 2), false },
        { "version less", Version("a", CompareResult.Less, 3), true },
        { "version not equal", Version("a", CompareResult.NotEqual, 2), false },
        { "create equal", Create("a", CompareResult.Equal, 2), true },
        { "create greater", Create("a", CompareResult.Greater, 2), false },
        { "create less", Create("a", CompareResult.Less, 3), true },
        { "create not equal", Create("a", CompareResult.NotEqual, 9), true },
        { "mod equal", Mod("a", CompareResult.Equal, 3), true },
        { "mod not equal", Mod("a", CompareResult.NotEqual, 3), false },
        { "mod greater", Mod("a", CompareResult.Greater, 2), true },
        { "mod less", Mod("a", CompareResult.Less, 3), false },
        { "value equal", Value("a", CompareResult.Equal, "v7"), true },
        { "value equal, other", Value("a", CompareResult.Equal, "v5"), false },
        { "value less", Value("a", CompareResult.Less, "v8"), true },
        { "value greater (prefix is smaller)", Value("a", CompareResult.Greater, "v"), true },
        { "value not equal", Value("a", CompareResult.NotEqual, "v7"), false },
        { "lease equal 0", Lease("a", CompareResult.Equal, 0), true },
        { "lease greater", Lease("a", CompareResult.Greater, 0), false },
        { "lease not equal", Lease("a", CompareResult.NotEqual, 5), true },
        { "missing key has version 0", Version("zz", CompareResult.Equal, 0), true },
        { "missing key has create 0", Create("zz", CompareResult.Equal, 0), true },
        { "missing key has mod 0", Mod("zz", CompareResult.Less, 1), true },
        { "missing key has lease 0", Lease("zz", CompareResult.Equal, 0), true },
        { "missing key fails any value compare", Value("zz", CompareResult.Equal, ""), false },
        { "missing key fails value not equal", Value("zz", CompareResult.NotEqual, "x"), false },
        { "range: every key must hold", Version("a", CompareResult.Greater, 0, "c"), true },
        { "range: one key fails", Version("a", CompareResult.Equal, 2, "c"), false },
        { "range: mods", Mod("a", CompareResult.Greater, 2, "c"), true },
        { "range to the end", Create("a", CompareResult.Less, 5, "\0"), true },
        { "range to the end, one fails", Create("a", CompareResult.Less, 4, "\0"), false },
        { "range with no keys compares zero", Version("x", CompareResult.Equal, 0, "z"), true },
        { "range with no keys fails value", Value("x", CompareResult.Equal, "", "z"), false },
        { "range: values", Value("a", CompareResult.Greater, "v0", "c"), true },
        { "a target without its field compares zero", new Compare { Key = B("a"), Target = CompareTarget.Version, Result = CompareResult.Greater, CreateRevision = 5 }, true },
    };

    [Theory]
    [MemberData(nameof(Compares))]
    public void Compare_picks_the_branch(string name, Compare compare, bool succeeds)
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Compare = { compare },
            Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("a") } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = B("b") } } },
        });
        Assert.Equal(succeeds, response.Succeeded);
        Assert.Equal(succeeds ? "a" : "b", S(response.Responses.Single().ResponseRange.Kvs.Single().Key));
        Assert.Equal(4, response.Header.Revision);
        Assert.NotEmpty(name);
    }

    [Fact]
    public void All_compares_must_hold()
    {
        using var t = Seeded();
        var both = t.Txn(new TxnRequest { Compare = { Version("a", CompareResult.Equal, 2), Version("b", CompareResult.Equal, 1) } });
        var one = t.Txn(new TxnRequest { Compare = { Version("a", CompareResult.Equal, 2), Version("b", CompareResult.Equal, 2) } });
        Assert.True(both.Succeeded);
        Assert.False(one.Succeeded);
        Assert.True(t.Txn(new TxnRequest()).Succeeded); // no compares: success
    }

    [Fact]
    public void Txn_ops_share_one_revision_and_fill_headers_like_etcd()
    {
        // The same request and answer as on etcd 3.4 (see the report): put, range, delete of a missing key, nested range.
        using var t = new TestStore();
        t.Put("k1", "v"); // 2
        var response = t.Txn(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("k2"), Value = B("x") } },
                new RequestOp { RequestRange = new RangeRequest { Key = B("k"), RangeEnd = B("l") } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("zz") } },
                new RequestOp { RequestTxn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("k2") } } } } },
            },
        });
        Assert.True(response.Succeeded);
        Assert.Equal(3, response.Header.Revision);
        Assert.Equal(3, response.Responses[0].ResponsePut.Header.Revision);
        var range = response.Responses[1].ResponseRange;
        Assert.Equal(3, range.Header.Revision);
        Assert.Equal("k1=v@2/2/1 k2=x@3/3/1", t.Dump(range));
        Assert.Equal(2, range.Count);
        Assert.Equal(3, response.Responses[2].ResponseDeleteRange.Header.Revision);
        Assert.Equal(0, response.Responses[2].ResponseDeleteRange.Deleted);
        var nested = response.Responses[3].ResponseTxn;
        Assert.NotNull(nested.Header);
        Assert.Equal(0, nested.Header.Revision);
        Assert.True(nested.Succeeded);
        Assert.Equal(3, nested.Responses[0].ResponseRange.Header.Revision);
        Assert.Equal("k2=x@3/3/1", t.Dump(nested.Responses[0].ResponseRange));
        Assert.Equal(3, t.Store.CurrentRevision);
    }

    [Fact]
    public void Failure_branch_runs_when_a_compare_fails()
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Compare = { Value("a", CompareResult.Equal, "nope") },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = B("s"), Value = B("1") } } },
            Failure = { new RequestOp { RequestPut = new PutRequest { Key = B("f"), Value = B("1"), PrevKv = true } } },
        });
        Assert.False(response.Succeeded);
        Assert.Equal(5, response.Header.Revision);
        Assert.Empty(t.Get("s").Kvs);
        Assert.Equal("f=1@5/5/1", t.Dump(t.Get("f")));
    }

    [Fact]
    public void Writes_in_a_txn_take_sub_revisions_and_later_ops_see_earlier_ones()
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("n"), Value = B("1") } },
                new RequestOp { RequestPut = new PutRequest { Key = B("n"), Value = B("2"), PrevKv = true } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("a"), PrevKv = true } },
                new RequestOp { RequestPut = new PutRequest { Key = B("a"), Value = B("new") } },
                new RequestOp { RequestRange = new RangeRequest { Key = B("a"), RangeEnd = B("\0") } },
            },
        });
        Assert.Equal(5, response.Header.Revision);
        Assert.Equal("1", S(response.Responses[1].ResponsePut.PrevKv.Value));
        Assert.Equal("v7", S(response.Responses[2].ResponseDeleteRange.PrevKvs.Single().Value));
        Assert.Equal("a=new@5/5/1 b=v1@4/4/1 n=2@5/5/2", t.Dump(response.Responses[4].ResponseRange));
        Assert.Equal("a=new@5/5/1 b=v1@4/4/1 n=2@5/5/2", t.Dump(t.Get("a", "\0")));
        Assert.Equal("a=v7@3/2/2 b=v1@4/4/1", t.Dump(t.Get("a", "\0", revision: 4)));
    }

    [Fact]
    public void Nested_compares_see_the_state_before_the_txn_as_in_etcd()
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("c"), Value = B("1") } },
                new RequestOp
                {
                    RequestTxn = new TxnRequest
                    {
                        Compare = { Version("c", CompareResult.Equal, 0) }, // c did not exist before the txn
                        Success = { new RequestOp { RequestPut = new PutRequest { Key = B("inner"), Value = B("yes") } } },
                        Failure = { new RequestOp { RequestPut = new PutRequest { Key = B("inner"), Value = B("no") } } },
                    },
                },
            },
        });
        Assert.True(response.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal(5, response.Responses[1].ResponseTxn.Responses[0].ResponsePut.Header.Revision);
        Assert.Equal("inner=yes@5/5/1", t.Dump(t.Get("inner")));
    }

    [Fact]
    public void Nested_txns_in_both_branches_follow_their_own_compares()
    {
        using var t = Seeded();
        static RequestOp Nested(Compare compare, string key) => new()
        {
            RequestTxn = new TxnRequest
            {
                Compare = { compare },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = B(key), Value = B("s") } } },
                Failure = { new RequestOp { RequestPut = new PutRequest { Key = B(key), Value = B("f") } } },
            },
        };
        var response = t.Txn(new TxnRequest
        {
            Compare = { Version("b", CompareResult.Equal, 1) },
            Success = { Nested(Version("a", CompareResult.Equal, 99), "x"), Nested(Version("a", CompareResult.Equal, 2), "y") },
            Failure = { Nested(Version("a", CompareResult.Equal, 2), "z") },
        });
        Assert.True(response.Succeeded);
        Assert.False(response.Responses[0].ResponseTxn.Succeeded);
        Assert.True(response.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal("x=f@5/5/1 y=s@5/5/1", t.Dump(t.Get("x", "\0")));
    }

    public static TheoryData<string, RequestOp, string> FailingOps => new()
    {
        { "lease not found", new RequestOp { RequestPut = new PutRequest { Key = B("c"), Value = B("1"), Lease = 7 } }, EtcdErrors.LeaseNotFound.Message },
        { "ignore_value on a missing key", new RequestOp { RequestPut = new PutRequest { Key = B("zz"), IgnoreValue = true } }, EtcdErrors.KeyNotFound.Message },
        { "ignore_lease on a missing key", new RequestOp { RequestPut = new PutRequest { Key = B("zz"), IgnoreLease = true } }, EtcdErrors.KeyNotFound.Message },
        { "range at a future revision", new RequestOp { RequestRange = new RangeRequest { Key = B("a"), Revision = 5 } }, EtcdErrors.FutureRevision.Message },
        { "range at a compacted revision", new RequestOp { RequestRange = new RangeRequest { Key = B("a"), Revision = 2 } }, EtcdErrors.Compacted.Message },
        {
            "error in a nested txn",
            new RequestOp { RequestTxn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = B("c"), Lease = 1 } } } } },
            EtcdErrors.LeaseNotFound.Message
        },
    };

    [Theory]
    [MemberData(nameof(FailingOps))]
    public void A_failing_op_fails_the_whole_txn_and_changes_nothing(string name, RequestOp failing, string error)
    {
        using var t = Seeded();
        t.Compact(3);
        var before = t.Dump(t.Get("", "\0"));
        var txn = new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("first"), Value = B("1") } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("a") } },
                failing,
            },
        };
        Assert.Equal(error, ErrorOf(() => t.Txn(txn)).Message);
        Assert.Equal(4, t.Store.CurrentRevision);
        Assert.Equal(before, t.Dump(t.Get("", "\0")));
        t.Put("after", "1");
        Assert.Equal("after=1@5/5/1", t.Dump(t.Get("after")));
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Errors_in_the_branch_not_taken_do_not_matter()
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Compare = { Version("a", CompareResult.Equal, 2) },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = B("ok"), Value = B("1") } } },
            Failure = { new RequestOp { RequestPut = new PutRequest { Key = B("bad"), Lease = 9 } } },
        });
        Assert.True(response.Succeeded);
        Assert.Equal(5, response.Header.Revision);
    }

    [Fact]
    public void Range_inside_a_txn_reads_old_revisions()
    {
        using var t = Seeded();
        var response = t.Txn(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("a"), Value = B("v9") } },
                new RequestOp { RequestRange = new RangeRequest { Key = B("a"), Revision = 2 } },
            },
        });
        var range = response.Responses[1].ResponseRange;
        Assert.Equal("a=v5@2/2/1", t.Dump(range));
        Assert.Equal(5, range.Header.Revision);
    }
}
