using Etcdserverpb;
using HttpKv.Server;

namespace HttpKv.Api.Health;

/// <summary>The alarms raised in the cluster and not yet disarmed (NOSPACE, CORRUPT), as the health checks see them.</summary>
public interface IActiveAlarms
{
    IReadOnlyList<AlarmMember> Active { get; }
}

/// <summary>The member's replicated alarms, once it has opened (none before).</summary>
public sealed class MemberAlarms(MemberHost host) : IActiveAlarms
{
    public IReadOnlyList<AlarmMember> Active => host.Opened.IsCompletedSuccessfully ? host.Opened.Result.Alarms.Active : [];
}
