using HttpKv.Mvcc;
using HttpKv.Server.Auth;
using HttpKv.Server.Cluster;
using HttpKv.Server.Leases;
using HttpKv.Server.Watch;

namespace HttpKv.Server;

/// <summary>What a member keeps beside its key space: its watchers, leases, users and roles, and the cluster's alarms.
/// The member owns them and every door reads them through it (<see cref="Member.Watches"/>, …); only the apply loop
/// changes them, through the appliers it is given (<see cref="Apply.Appliers"/>), and it restores them when a snapshot
/// replaces the backend.</summary>
public sealed record MemberDomains(WatchHub Watches, Lessor Leases, AuthStore Auth, Alarms Alarms)
{
    /// <summary>Every domain as the backend <paramref name="store"/> (installed from a snapshot) holds it; watchers
    /// catch up from it, as etcd's do.</summary>
    internal void Restore(MvccStore store)
    {
        Watches.ResyncAll();
        Leases.Restore(store);
        Auth.Restore(store);
        Alarms.Restore(store.ReadMeta(BackendMeta.Alarms));
    }
}
