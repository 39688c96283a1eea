using Etcdserverpb;
using HttpKv.Protocol;
using static Etcdserverpb.RangeRequest.Types;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class RangeTests
{
    /// <summary>At revision 8: a=x0 (mod 5, create 2, version 2), b=x1 (3/3/1), c=x2 (4/4/1), d=x4 (6/6/1); e lived at 7.</summary>
    private static TestStore Seeded()
    {
        var t = new TestStore();
        t.Put("a", "x3"); // 2
        t.Put("b", "x1"); // 3
        t.Put("c", "x2"); // 4
        t.Put("a", "x0"); // 5
        t.Put("d", "x4"); // 6
        t.Put("e", "x5"); // 7
        t.Delete("e");    // 8
        return t;
    }

    private static RangeRequest All() => new() { Key = B("a"), RangeEnd = B("\0") };

    public static TheoryData<string, RangeRequest, string, bool, long> Cases => new()
    {
        { "single key", new RangeRequest { Key = B("b") }, "b", false, 1 },
        { "missing key", new RangeRequest { Key = B("zz") }, "", false, 0 },
        { "deleted key", new RangeRequest { Key = B("e") }, "", false, 0 },
        { "half-open interval", new RangeRequest { Key = B("a"), RangeEnd = B("c") }, "a b", false, 2 },
        { "from key to the end", new RangeRequest { Key = B("b"), RangeEnd = B("\0") }, "b c d", false, 3 },
        { "every key", new RangeRequest { Key = B("\0"), RangeEnd = B("\0") }, "a b c d", false, 4 },
        { "end before key", new RangeRequest { Key = B("c"), RangeEnd = B("a") }, "", false, 0 },
        { "limit below count", new RangeRequest(All()) { Limit = 2 }, "a b", true, 4 },
        { "limit equal to count", new RangeRequest(All()) { Limit = 4 }, "a b c d", false, 4 },
        { "limit above count", new RangeRequest(All()) { Limit = 5 }, "a b c d", false, 4 },
        { "count only", new RangeRequest(All()) { CountOnly = true }, "", false, 4 },
        { "count only ignores limit", new RangeRequest(All()) { CountOnly = true, Limit = 1 }, "", false, 4 },
        { "at an older revision", new RangeRequest(All()) { Revision = 4 }, "a b c", false, 3 },
        { "before the delete", new RangeRequest(All()) { Revision = 7 }, "a b c d e", false, 5 },
        { "key descending", new RangeRequest(All()) { SortOrder = SortOrder.Descend }, "d c b a", false, 4 },
        { "key ascending", new RangeRequest(All()) { SortOrder = SortOrder.Ascend }, "a b c d", false, 4 },
        { "version descending", new RangeRequest(All()) { SortTarget = SortTarget.Version, SortOrder = SortOrder.Descend }, "a b c d", false, 4 },
        { "mod with no order sorts ascending", new RangeRequest(All()) { SortTarget = SortTarget.Mod }, "b c a d", false, 4 },
        { "create descending", new RangeRequest(All()) { SortTarget = SortTarget.Create, SortOrder = SortOrder.Descend }, "d c b a", false, 4 },
        { "value ascending", new RangeRequest(All()) { SortTarget = SortTarget.Value, SortOrder = SortOrder.Ascend }, "a b c d", false, 4 },
        { "value descending", new RangeRequest(All()) { SortTarget = SortTarget.Value, SortOrder = SortOrder.Descend }, "d c b a", false, 4 },
        { "limit applies after the sort", new RangeRequest(All()) { SortTarget = SortTarget.Mod, SortOrder = SortOrder.Descend, Limit = 2 }, "d a", true, 4 },
        { "min mod revision", new RangeRequest(All()) { MinModRevision = 4 }, "a c d", false, 4 },
        { "max mod revision", new RangeRequest(All()) { MaxModRevision = 4 }, "b c", false, 4 },
        { "min create revision", new RangeRequest(All()) { MinCreateRevision = 3 }, "b c d", false, 4 },
        { "max create revision", new RangeRequest(All()) { MaxCreateRevision = 3 }, "a b", false, 4 },
        { "filters before the limit", new RangeRequest(All()) { MinModRevision = 4, Limit = 2 }, "a c", true, 4 },
        { "filter leaves exactly the limit", new RangeRequest(All()) { MinModRevision = 6, Limit = 1 }, "d", false, 4 },
        { "filters combine", new RangeRequest(All()) { MinModRevision = 4, MaxCreateRevision = 3 }, "a", false, 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Range_follows_etcd(string name, RangeRequest request, string keys, bool more, long count)
    {
        using var t = Seeded();
        var response = t.Store.Range(request);
        Assert.Equal(keys, string.Join(" ", response.Kvs.Select(kv => S(kv.Key))));
        Assert.Equal(more, response.More);
        Assert.Equal(count, response.Count);
        // Found by the robustness harness: the header's revision is the one the read saw, taken with it (it was the
        // server's current revision read afterwards, which a concurrent apply could move past the data).
        Assert.Equal(new Etcdserverpb.ResponseHeader { Revision = t.Store.CurrentRevision }, response.Header);
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Range_returns_full_key_values()
    {
        using var t = Seeded();
        Assert.Equal("a=x0@5/2/2 b=x1@3/3/1 c=x2@4/4/1 d=x4@6/6/1", t.Dump(t.Store.Range(All())));
        Assert.Equal("a=x3@2/2/1 b=x1@3/3/1", t.Dump(t.Store.Range(new RangeRequest(All()) { Revision = 3 })));
    }

    [Fact]
    public void Keys_only_drops_values()
    {
        using var t = Seeded();
        var response = t.Store.Range(new RangeRequest(All()) { KeysOnly = true });
        Assert.Equal(4, response.Kvs.Count);
        Assert.All(response.Kvs, kv => Assert.True(kv.Value.IsEmpty));
        Assert.Equal(5, response.Kvs[0].ModRevision);
    }

    [Fact]
    public void Range_beyond_the_current_revision_is_a_future_revision()
    {
        using var t = Seeded();
        Assert.Same(EtcdErrors.FutureRevision, ErrorOf(() => t.Get("a", revision: 9)));
        Assert.NotEmpty(t.Get("a", revision: 8).Kvs);
    }
}
