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

    /// <summary>python3-etcd3's watch (history and live, prev_kv, the deletes a lease revoke makes) together with its
    /// lease calls (grant, remaining TTL, refresh, keys, put with a lease, revoke).</summary>
    [Fact]
    public async Task Python_etcd3_watch_and_lease_over_grpc()
    {
        const string script = """
            import os, sys, etcd3
            c = etcd3.client(host='127.0.0.1', port=int(sys.argv[1]))
            c.put('/pw/a', 'zero')                          # revision 2
            events, cancel = c.watch_prefix('/pw/', start_revision=2, prev_kv=True)
            l = c.lease(20)
            print(l.granted_ttl, 0 < l.remaining_ttl <= 20)
            c.put('/pw/a', 'one', lease=l)                  # 3
            c.put('/pw/b', 'two', lease=l)                  # 4
            c.put('/other', 'x')                            # 5: not watched
            c.delete('/pw/a')                               # 6
            c.put('/pw/a', 'three', lease=l)                # 7
            print(l.refresh()[0].TTL, sorted(k.decode() for k in l.keys), c.get('/pw/b')[1].lease_id == l.id)
            l.revoke()                                      # 8: deletes /pw/a and /pw/b
            print(l.remaining_ttl, c.get('/pw/a')[0], c.get('/pw/b')[0])
            for _, e in zip(range(7), events):
                prev = e.prev_value.decode() if e._event.HasField('prev_kv') else None
                print(type(e).__name__, e.key.decode(), e.value.decode(), e.mod_revision, e.lease == l.id, prev)
            cancel()
            value, meta = c.get('/other')
            print(value.decode(), meta.mod_revision)
            sys.stdout.flush()
            os._exit(0)
            """;
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script);
    }
}
