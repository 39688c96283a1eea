namespace HttpKv.Compat.Tests;

/// <summary>Debian's python3-etcd3 (gRPC) and python3-etcd3gw (HTTP/JSON), unchanged, against HttpKv:
/// each script succeeds and prints what it prints against the real etcd.</summary>
public sealed class PythonClientTests
{
    [Fact]
    public async Task Python_etcd3_over_grpc()
    {
        const string script = """
            import sys, etcd3
            c = etcd3.client(host='127.0.0.1', port=int(sys.argv[1]))
            c.put('/py/a', 'one')
            c.put('/py/b', 'two')
            value, meta = c.get('/py/a')
            print(value.decode(), meta.version, meta.mod_revision)
            print(sorted(v.decode() for v, m in c.get_prefix('/py/')))
            ok, _ = c.transaction(compare=[c.transactions.value('/py/a') == b'one'],
                                  success=[c.transactions.put('/py/a', 'three')], failure=[])
            print(ok, c.get('/py/a')[0].decode())
            print(c.delete('/py/b'), c.get('/py/b')[0])
            """;
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script);
    }

    [Fact]
    /// <summary>etcd3gw calls /v3alpha by default, which etcd 3.4 dropped; the oracle gets /v3beta, HttpKv the default.</summary>
    public async Task Python_etcd3gw_over_the_json_gateway()
    {
        const string script = """
            import sys
            from etcd3gw.client import Etcd3Client
            kwargs = {'api_path': sys.argv[2]} if len(sys.argv) > 2 else {}
            c = Etcd3Client(host='127.0.0.1', port=int(sys.argv[1]), **kwargs)
            print(c.put('/gw/a', 'one'))
            print(c.get('/gw/a'))
            c.put('/gw/b', 'two')
            print(sorted(v.decode() if isinstance(v, bytes) else v for v, m in c.get_prefix('/gw/')))
            print(c.delete('/gw/a'), c.get('/gw/a'))
            print(c.create('/gw/new', 'x'), c.create('/gw/new', 'y'))
            """;
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script, "/v3beta/");
    }
}
