using HttpKv.Protocol;

namespace HttpKv.Mvcc.Tests;

public sealed class HashTests
{
    // Expected values from etcd 3.4.23: put a 1; put b 2; del a; put c 3; (compact 4); put a 9; compact 6 — read with `etcdctl endpoint hashkv`.
    [Fact]
    public void HashKv_matches_etcd()
    {
        using var t = new TestStore();
        Assert.Equal(1084519789u, t.Store.HashKv(0, out var compact));
        Assert.Equal(-1, compact);
        t.Put("a", "1");
        t.Put("b", "2");
        t.Delete("a");
        t.Put("c", "3");
        Assert.Equal(878850413u, t.Store.HashKv(0, out _));
        Assert.Equal(1827592406u, t.Store.HashKv(3, out _));
        t.Compact(4);
        Assert.Equal(4196123440u, t.Store.HashKv(0, out compact));
        Assert.Equal(4, compact);
        t.Put("a", "9");
        t.Compact(6);
        Assert.Equal(3241683325u, t.Store.HashKv(0, out compact));
        Assert.Equal(6, compact);
    }

    [Fact]
    public void HashKv_checks_the_revision()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        t.Put("a", "2");
        t.Compact(2);
        Assert.Same(EtcdErrors.FutureRevision, TestStore.ErrorOf(() => t.Store.HashKv(4, out _)));
        Assert.Same(EtcdErrors.Compacted, TestStore.ErrorOf(() => t.Store.HashKv(1, out _)));
        t.Store.HashKv(2, out _); // etcd 3.5 allows the compacted revision itself (3.4 does not)
    }
}
