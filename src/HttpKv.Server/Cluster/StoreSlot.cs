using HttpKv.Mvcc;

namespace HttpKv.Server.Cluster;

/// <summary>Holds the member's MVCC store, which a snapshot from the leader replaces whole. Readers use
/// <see cref="Read{T}"/> (a read lock for the length of the read); the apply loop, the only writer, uses
/// <see cref="Current"/> and <see cref="Replace"/>.</summary>
public sealed class StoreSlot(MvccStore store) : IDisposable
{
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.SupportsRecursion);
    private MvccStore store = store;

    public MvccStore Current => store;

    public T Read<T>(Func<MvccStore, T> read)
    {
        gate.EnterReadLock();
        try
        {
            return read(store);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Closes the current store, lets <paramref name="reopen"/> swap the files and open the next one.</summary>
    public void Replace(Func<MvccStore> reopen)
    {
        gate.EnterWriteLock();
        try
        {
            store.Dispose();
            store = reopen();
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    public void Dispose() => store.Dispose();
}
