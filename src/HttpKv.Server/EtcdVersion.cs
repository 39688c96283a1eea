namespace HttpKv.Server;

/// <summary>The etcd version HttpKv speaks for (clients read it from /version and Status to choose features).
/// etcd reports the cluster version as major.minor.0.</summary>
public static class EtcdVersion
{
    public const string Server = "3.5.17";
    public const string Cluster = "3.5.0";
}
