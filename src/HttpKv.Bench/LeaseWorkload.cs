using Etcdserverpb;
using Grpc.Core;

namespace HttpKv.Bench;

/// <summary>Each client grants a lease and keeps it alive on its own LeaseKeepAlive stream as fast as the answers
/// come: one operation is one keep-alive round trip. The leases are revoked afterwards.</summary>
public sealed class LeaseWorkload(BenchOptions options, Connections connections)
{
    private const long LeaseTtlSeconds = 60;

    public async Task<RunResult> RunAsync()
    {
        var leases = await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(async client =>
        {
            var lease = new Lease.LeaseClient(connections.Channel(client));
            var granted = await lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = LeaseTtlSeconds }, connections.Headers);
            return (lease, id: granted.ID, call: lease.LeaseKeepAlive(connections.Headers));
        }));
        try
        {
            return await Runner.RunAsync(options, client =>
            {
                var (_, id, call) = leases[client];
                var request = new LeaseKeepAliveRequest { ID = id };
                return async _ =>
                {
                    await call.RequestStream.WriteAsync(request);
                    if (!await call.ResponseStream.MoveNext(CancellationToken.None)) throw new BenchError("keep-alive stream ended");
                    if (call.ResponseStream.Current.TTL <= 0) throw new BenchError("etcdserver: requested lease not found");
                };
            });
        }
        finally
        {
            foreach (var (lease, id, call) in leases)
            {
                call.Dispose();
                try { await lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = id }, connections.Headers); }
                catch (RpcException) { /* the lease expires by itself */ }
            }
        }
    }
}
