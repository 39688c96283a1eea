using HttpKv.Server.Auth;
using HttpKv.Server.Cluster;
using HttpKv.Server.Leases;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Apply;

/// <summary>A member's applier chain, in etcd's order: the alarm gate, then the auth-revision gate for key writes,
/// then the domain of the request.</summary>
public static class Appliers
{
    public static IApplier Chain(Alarms alarms, AuthStore auth, Lessor lessor, MembershipApplier membership, ILogger logger) =>
        new AlarmGate(alarms, new AuthRevisionGate(auth, new RequestRouter(
            keys: new KeyApplier(),
            leases: new LeaseApplier(lessor),
            auth: new AuthApplier(auth),
            alarms: new AlarmApplier(alarms, logger),
            membership: membership)));
}
