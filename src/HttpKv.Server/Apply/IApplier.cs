using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Apply;

/// <summary>Applies one committed request to the member's state, inside the backend batch of its entry: the shape of
/// etcd's applier chain, where gates (<see cref="AlarmGate"/>, <see cref="AuthRevisionGate"/>) wrap the per-domain
/// appliers behind a <see cref="RequestRouter"/>. Runs on the apply loop only. <see cref="Appliers.Chain"/> builds the
/// member's chain.</summary>
public interface IApplier
{
    /// <summary>The answer for the request's proposer: its response message, or the exception it fails with. An applier
    /// that refuses a request still marks its entry applied (<see cref="ApplyBatch.MarkApplied"/>), as etcd's do.</summary>
    object Apply(ApplyBatch batch, ulong index, LogRequest request);
}
