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

    [Fact]
    public Task Range_flags_and_output_formats_print_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("compaction", "1"),
        Etcdctl("put", "k1", "v1"),
        Etcdctl("put", "k2", "v2"),
        Etcdctl("put", "k3", ""),
        Etcdctl("put", "k1", "v1b"),
        Etcdctl("get", "k", "--from-key", "--limit", "2"),
        Etcdctl("get", "k2", "--from-key", "--keys-only", "-w", "json"),
        Etcdctl("get", "k", "--prefix", "--rev", "3", "-w", "fields"),
        Etcdctl("get", "k", "--prefix", "--rev=4", "--limit=1", "--sort-by=VALUE", "--order=DESCEND"),
        Etcdctl("get", "k", "--prefix", "--sort-by=CREATE", "--order=DESCEND", "--limit", "1", "-w", "json"),
        Etcdctl("get", "k", "--prefix", "--sort-by=VERSION", "-w", "simple"),
        Etcdctl("get", "k1", "-w", "protobuf"),
        Etcdctl("get", "k3", "-w", "json"),
        Etcdctl("get", "", "--prefix", "--rev=1"),
        Etcdctl("get", ""),
        Etcdctl("compaction", "0"));

    [Fact]
    public Task Put_and_delete_flags_print_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "k1", "v1"),
        Etcdctl("put", "k2", "v2"),
        Etcdctl("put", "k1", "--ignore-value", "--prev-kv"),
        Etcdctl("put", "k1", "v9", "--ignore-lease", "-w", "json"),
        Etcdctl("put", "missing", "--ignore-value"),
        Etcdctl("put", "k1", "x", "--lease=1234"),
        EtcdctlWithInput(new string('z', 1_700_000), "put", "large"), // above --max-request-bytes (1.5 MiB)
        Etcdctl("get", "k", "--prefix", "-w", "fields"),
        Etcdctl("del", "k2", "--from-key", "-w", "fields"),
        Etcdctl("del", ""),
        Etcdctl("get", "", "--from-key", "-w", "json"));

    [Fact]
    public Task Txn_with_nested_failures_prints_as_against_etcd() => AssertSameAsEtcdAsync(
        Etcdctl("put", "a", "1"),
        EtcdctlWithInput("lease(\"a\") = \"0\"\n\nput b 2\ndel a\n\n\n", "txn", "-w", "json"),
        EtcdctlWithInput("value(\"a\") = \"1\"\n\nput x 1\n\nput x 2\n\n", "txn"),
        EtcdctlWithInput("version(\"b\") > \"0\"\n\nput c 1\nput c 2\n\n\n", "txn"),
        EtcdctlWithInput("mod(\"b\") = \"3\"\n\nget b --rev=100\n\n\n", "txn"),
        Etcdctl("get", "", "--from-key", "-w", "json"));
}
