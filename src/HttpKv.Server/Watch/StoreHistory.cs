using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Server.Cluster;
using Mvccpb;

namespace HttpKv.Server.Watch;

/// <summary>The watch hub's history: the member's current MVCC store (which a snapshot may replace).</summary>
public sealed class StoreHistory(StoreSlot stores) : IWatchHistory
{
    public long CurrentRevision => stores.Current.CurrentRevision;

    public long CompactedRevision => stores.Current.CompactedRevision;

    public (IReadOnlyList<Event> Events, long Through) ReadEvents(long fromRevision, int maxEvents, long maxBytes) =>
        stores.Read(store => store.ReadEvents(fromRevision, maxEvents, maxBytes));

    public KeyValue? Get(ReadOnlySpan<byte> key, long revision)
    {
        if (revision <= 0) return null;
        var request = new RangeRequest { Key = ByteString.CopyFrom(key), Revision = revision };
        try
        {
            var response = stores.Read(store => store.Range(request));
            return response.Kvs.Count > 0 ? response.Kvs[0] : null;
        }
        catch (EtcdException)
        {
            return null;
        }
    }
}
