using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Auth;

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
        response.Header = member.Header(response.Header);
        Metrics.ServerMetrics.CountRange();
        return response;
    }

    public Task<PutResponse> PutAsync(PutRequest request, AuthInfo? caller, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return ProposeAsync<PutResponse>(new LogRequest { Put = request, AuthRevision = Revision(caller) }, cancellationToken);
    }

    public Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, AuthInfo? caller, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return ProposeAsync<DeleteRangeResponse>(new LogRequest { DeleteRange = request, AuthRevision = Revision(caller) }, cancellationToken);
    }

    public Task<TxnResponse> TxnAsync(TxnRequest request, AuthInfo? caller, CancellationToken cancellationToken)
    {
        validator.Check(request);
        return ProposeAsync<TxnResponse>(new LogRequest { Txn = request, AuthRevision = Revision(caller) }, cancellationToken);
    }

    /// <summary>The auth revision a write's proposal carries: its caller's, or 0 (no check at apply) while auth is off.</summary>
    private static ulong Revision(AuthInfo? caller) => caller?.Revision ?? 0;

    public Task<CompactionResponse> CompactAsync(CompactionRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<CompactionResponse>(new LogRequest { Compaction = request }, cancellationToken);

    /// <summary>A write through the member's log; once the member is ready, the task is the log's own (no async
    /// frame per write here). A request refused by <see cref="RequestValidator"/> throws before any of it.</summary>
    private Task<T> ProposeAsync<T>(LogRequest request, CancellationToken cancellationToken) where T : class, Google.Protobuf.IMessage, IHasResponseHeader
    {
        var ready = host.Ready;
        return ready.IsCompletedSuccessfully ? ready.Result.ProposeAsync<T>(request, cancellationToken) : WhenReadyAsync(ready, request, cancellationToken);

        // static, so that the fast path allocates no closure for it
        static async Task<T> WhenReadyAsync(Task<Member> member, LogRequest request, CancellationToken cancellationToken) =>
            await (await member).ProposeAsync<T>(request, cancellationToken);
    }
}
