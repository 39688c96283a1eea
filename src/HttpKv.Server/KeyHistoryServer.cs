using Etcdserverpb;
using Google.Protobuf;

namespace HttpKv.Server;

/// <summary>One key's versions still held by the store (HttpKv's own; etcd has no such call): what the REST API's
/// <c>?revisions=true</c> and the dashboard's history view show.</summary>
public interface IKeyHistoryService
{
    /// <summary>Linearizable: answered after a read-index barrier, as a range is.</summary>
    Task<KeyHistory> HistoryAsync(ByteString key, int limit, CancellationToken cancellationToken);
}

/// <summary>The versions oldest first (a put's KeyValue, or a delete event), the store's revision and compacted revision.</summary>
public sealed record KeyHistory(IReadOnlyList<Mvccpb.Event> Versions, ResponseHeader Header, long CompactRevision);

public sealed class KeyHistoryServer(MemberHost host) : IKeyHistoryService
{
    public async Task<KeyHistory> HistoryAsync(ByteString key, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.IsEmpty) throw Protocol.EtcdErrors.EmptyKey.ToException();
        var member = await host.Ready;
        await member.Log.WaitForReadIndexAsync(cancellationToken);
        var (versions, revision, compacted) = member.Stores.Read(store => store.History(key.Memory, limit));
        return new KeyHistory(versions, member.Header(revision), compacted);
    }
}
