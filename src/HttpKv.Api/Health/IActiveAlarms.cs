using Etcdserverpb;

namespace HttpKv.Api.Health;

/// <summary>The alarms raised in the cluster and not yet disarmed (NOSPACE, CORRUPT), as the health checks see them.</summary>
public interface IActiveAlarms
{
    IReadOnlyList<AlarmMember> Active { get; }
}

/// <summary>The member's alarms, once it has opened.</summary>
public sealed class MemberAlarms : IActiveAlarms
{
    // TODO(issue 9): read member.Log.Alarms.Active once the alarm store lands on main; until then no alarm can be raised.
    public IReadOnlyList<AlarmMember> Active => [];
}
