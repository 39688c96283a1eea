using Google.Protobuf;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server;

/// <summary>The ordered, durable log every write passes through before it is applied.
/// A one-member cluster commits an entry once it is fsynced in the WAL (<see cref="LocalLog"/>);
/// the Raft log of a cluster (issue 4) takes this role without changing any caller.</summary>
public interface IReplicatedLog : IAsyncDisposable
{
    /// <summary>The current term, for response headers.</summary>
    ulong Term { get; }

    /// <summary>Index of the last entry known to be committed.</summary>
    ulong CommittedIndex { get; }

    /// <summary>Appends a request to the log and completes with its result once it has been committed and applied.</summary>
    Task<IMessage> ProposeAsync(LogRequest request, CancellationToken cancellationToken);

    /// <summary>Completes when everything committed at the time of the call has been applied
    /// (a linearizable read's barrier: etcd's ReadIndex on one member).</summary>
    Task WaitForReadIndexAsync(CancellationToken cancellationToken);
}
