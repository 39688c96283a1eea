using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server;

/// <summary>The KV service of one member: checks a request, sends writes through the log and reads the MVCC store
/// (after a read-index barrier unless the read is serializable), and fills every response's header.</summary>
public sealed class KvServer(MemberHost host) : IKvService
{
    private readonly RequestValidator validator = new(host.Options.MaxTxnOps);

    public async Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        validator.Check(request);
        var member = await host.Ready;
        if (!request.Serializable) await member.Log.WaitForReadIndexAsync(cancellationToken);
        var response = member.Stores.Read(store => store.Range(request));
        response.Header = member.Header(response.Header?.Revision ?? member.Stores.Current.CurrentRevision);
        Metrics.ServerMetrics.CountRange();
        return response;
    }

    public async Task<PutResponse> PutAsync(PutRequest request, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return await ProposeAsync<PutResponse>(new LogRequest { Put = request }, cancellationToken);
    }

    public async Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return await ProposeAsync<DeleteRangeResponse>(new LogRequest { DeleteRange = request }, cancellationToken);
    }

    public async Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return await ProposeAsync<TxnResponse>(new LogRequest { Txn = request }, cancellationToken);
    }

    public async Task<CompactionResponse> CompactAsync(CompactionRequest request, CancellationToken cancellationToken) =>
        await ProposeAsync<CompactionResponse>(new LogRequest { Compaction = request }, cancellationToken);

    private async Task<T> ProposeAsync<T>(LogRequest request, CancellationToken cancellationToken) where T : IHasResponseHeader =>
        await (await host.Ready).ProposeAsync<T>(request, cancellationToken);
}
