using static HttpKv.Compat.Tests.EtcdOracle;

namespace HttpKv.Compat.Tests;

/// <summary>etcdctl 3.4 (Debian's etcd-client) against HttpKv prints exactly what it prints against the real etcd.</summary>
public sealed class EtcdctlTests
{
    private static async Task AssertSameAsEtcdAsync(params Step[] steps)
    {
        var (etcd, httpKv) = await CompareAsync(steps);
        for (var i = 0; i < steps.Length; i++) Assert.Equal(etcd[i], httpKv[i]);
    }

    [Fact]
    public Task Put_get_and_range_options_print_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "foo", "bar"),
        Etcdctl("get", "foo", "-w", "json"),
        Etcdctl("put", "a1", "v1"),
        Etcdctl("put", "a2", "v2"),
        Etcdctl("put", "a3", "v3"),
        Etcdctl("put", "foo", "bar2", "--prev-kv"),
        Etcdctl("get", "--prefix", "a"),
        Etcdctl("get", "", "--from-key", "--keys-only"),
        Etcdctl("get", "foo", "--rev=2"),
        Etcdctl("get", "foo", "--rev=2", "-w", "json"),
        Etcdctl("get", "--prefix", "a", "--sort-by=MODIFY", "--order=DESCEND", "--limit=2"),
        Etcdctl("get", "--prefix", "a", "--sort-by=VALUE", "--order=ASCEND", "-w", "json"),
        Etcdctl("get", "--prefix", "a", "--limit=1", "-w", "json"),
        Etcdctl("get", "--prefix", "a", "--keys-only", "-w", "json"),
        Etcdctl("get", "a1", "a3"),
        Etcdctl("get", "foo", "--print-value-only"),
        Etcdctl("get", "missing", "-w", "json"),
        Etcdctl("get", "foo", "--rev=99"),
        Etcdctl("get", "--prefix", "a", "--consistency=s", "-w", "json"));

    [Fact]
    public Task Delete_prints_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "a1", "v1"),
        Etcdctl("put", "a2", "v2"),
        Etcdctl("put", "b", "v3"),
        Etcdctl("del", "--prefix", "a", "--prev-kv"),
        Etcdctl("del", "missing"),
        Etcdctl("del", "b", "-w", "json"),
        Etcdctl("get", "", "--from-key", "-w", "json"));

    [Fact]
    public Task Txn_from_stdin_prints_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "foo", "bar"),
        EtcdctlWithInput("value(\"foo\") = \"bar\"\n\nput foo baz\nput other x\n\nput foo qux\n\n", "txn"),
        Etcdctl("get", "foo"),
        EtcdctlWithInput("mod(\"foo\") > \"100\"\n\nput foo yes\n\nget foo\ndel other\n\n", "txn", "-w", "json"),
        EtcdctlWithInput("version(\"foo\") = \"2\"\ncreate(\"foo\") < \"3\"\n\nget foo --prefix\n\n\n", "txn", "-i"),
        EtcdctlWithInput("value(\"foo\") != \"baz\"\n\nput a 1\nput a 2\n\n\n", "txn"),
        Etcdctl("get", "", "--from-key", "-w", "json"));

    [Fact]
    public Task Compaction_prints_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "k", "1"),
        Etcdctl("put", "k", "2"),
        Etcdctl("put", "k", "3"),
        Etcdctl("put", "k", "4"),
        Etcdctl("compaction", "3"),
        Etcdctl("get", "k", "--rev=2"),
        Etcdctl("get", "k", "--rev=3"),
        Etcdctl("compaction", "--physical", "4"),
        Etcdctl("get", "k", "--rev=3"),
        Etcdctl("get", "k", "--rev=4", "-w", "json"),
        Etcdctl("compaction", "2"),
        Etcdctl("compaction", "100"));
}
