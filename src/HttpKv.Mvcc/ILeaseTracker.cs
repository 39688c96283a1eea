using Google.Protobuf;

namespace HttpKv.Mvcc;

/// <summary>What the store asks of the member's lessor while it applies writes: whether a lease exists (a put
/// with a missing lease fails, as etcd's), and which lease each written key is attached to now. Called on the
/// apply loop, in apply order, only for writes that succeed.</summary>
public interface ILeaseTracker
{
    bool Exists(long lease);

    /// <summary>A put of <paramref name="key"/> with <paramref name="lease"/> (0: no lease).</summary>
    void OnPut(ByteString key, long lease);

    void OnDelete(ByteString key);
}
