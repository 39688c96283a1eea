using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Cluster;

namespace HttpKv.Server.Apply;

/// <summary>etcd's capped and corrupt appliers: while an alarm is active, the requests it forbids
/// (<see cref="Alarms.Refusal"/>) are answered with its error and go no further; everything else passes on.</summary>
public sealed class AlarmGate(Alarms alarms, IApplier next) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        if (alarms.Refusal(request) is not { } refused) return next.Apply(batch, index, request);
        batch.MarkApplied(index);
        return refused.ToException();
    }
}
