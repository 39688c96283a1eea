using System.Collections.Frozen;

namespace HttpKv.Configuration;

/// <summary>
/// Every flag the etcd 3.5 server accepts, in the order of etcd's <c>etcd --help</c>.
/// </summary>
/// <remarks>
/// Sources: etcd's <c>server/etcdmain/config.go</c> and <c>help.go</c> (3.5 line), the
/// "Difference in flags" lists of etcd.io's downgrade guides (v3.6→v3.5, based on 3.5.18, and
/// v3.5→v3.4, based on 3.5.14), and <c>etcd --help</c> of etcd 3.4.23 for the flags 3.5 kept.
/// Flags only in 3.6+ (<c>--feature-gates</c>, <c>--log-format</c>, <c>--discovery-token</c>, …) are
/// not here: etcd 3.5 rejects them, and so does HttpKv.
/// Defaults are etcd's; HttpKv's own defaults live in appsettings.json.
/// </remarks>
public static class EtcdFlags
{
    private const bool Yes = true;
    private const bool No = false;

    /// <summary>The table, one row per flag.</summary>
    public static IReadOnlyList<EtcdFlag> All { get; } =
    [
        // Member
        new("name", EtcdFlagKind.String, "default", Yes),
        new("data-dir", EtcdFlagKind.String, "${name}.etcd", Yes),
        new("wal-dir", EtcdFlagKind.String, "", Yes),
        new("snapshot-count", EtcdFlagKind.UInt, "100000", Yes),
        new("heartbeat-interval", EtcdFlagKind.UInt, "100", Yes),
        new("election-timeout", EtcdFlagKind.UInt, "1000", Yes),
        new("initial-election-tick-advance", EtcdFlagKind.Bool, "true", No),
        new("listen-peer-urls", EtcdFlagKind.UrlList, "http://localhost:2380", Yes),
        new("listen-client-urls", EtcdFlagKind.UrlList, "http://localhost:2379", Yes),
        new("listen-client-http-urls", EtcdFlagKind.UrlList, "", No),
        new("max-snapshots", EtcdFlagKind.UInt, "5", No),
        new("max-wals", EtcdFlagKind.UInt, "5", No),
        new("quota-backend-bytes", EtcdFlagKind.Int, "0", Yes),
        new("backend-bbolt-freelist-type", EtcdFlagKind.String, "map", No),
        new("backend-batch-interval", EtcdFlagKind.Duration, "0s", No),
        new("backend-batch-limit", EtcdFlagKind.Int, "0", No),
        new("max-txn-ops", EtcdFlagKind.UInt, "128", Yes),
        new("max-request-bytes", EtcdFlagKind.UInt, "1572864", Yes),
        new("max-concurrent-streams", EtcdFlagKind.UInt32, "4294967295", No),
        new("grpc-keepalive-min-time", EtcdFlagKind.Duration, "5s", No),
        new("grpc-keepalive-interval", EtcdFlagKind.Duration, "2h", No),
        new("grpc-keepalive-timeout", EtcdFlagKind.Duration, "20s", No),
        new("socket-reuse-port", EtcdFlagKind.Bool, "false", No),
        new("socket-reuse-address", EtcdFlagKind.Bool, "false", No),
        new("raft-read-timeout", EtcdFlagKind.Duration, "5s", No),
        new("raft-write-timeout", EtcdFlagKind.Duration, "5s", No),

        // Clustering
        new("initial-advertise-peer-urls", EtcdFlagKind.UrlList, "http://localhost:2380", Yes),
        new("initial-cluster", EtcdFlagKind.String, "default=http://localhost:2380", Yes),
        new("initial-cluster-state", EtcdFlagKind.Choice, "new", Yes, ["new", "existing"]),
        new("initial-cluster-token", EtcdFlagKind.String, "etcd-cluster", Yes),
        new("advertise-client-urls", EtcdFlagKind.UrlList, "http://localhost:2379", Yes),
        new("discovery", EtcdFlagKind.String, "", No),
        new("discovery-fallback", EtcdFlagKind.Choice, "proxy", No, ["exit", "proxy"]),
        new("discovery-proxy", EtcdFlagKind.String, "", No),
        new("discovery-srv", EtcdFlagKind.String, "", No),
        new("discovery-srv-name", EtcdFlagKind.String, "", No),
        new("strict-reconfig-check", EtcdFlagKind.Bool, "true", Yes),
        new("pre-vote", EtcdFlagKind.Bool, "true", No),
        new("auto-compaction-retention", EtcdFlagKind.String, "0", Yes),
        new("auto-compaction-mode", EtcdFlagKind.Choice, "periodic", Yes, ["periodic", "revision"]),
        new("enable-v2", EtcdFlagKind.Bool, "false", No),
        new("v2-deprecation", EtcdFlagKind.Choice, "not-yet", No, ["not-yet", "write-only", "write-only-drop-data", "gone"]),

        // Security
        new("cert-file", EtcdFlagKind.String, "", Yes),
        new("key-file", EtcdFlagKind.String, "", Yes),
        new("client-cert-auth", EtcdFlagKind.Bool, "false", Yes),
        new("client-cert-file", EtcdFlagKind.String, "", Yes),
        new("client-key-file", EtcdFlagKind.String, "", Yes),
        new("client-crl-file", EtcdFlagKind.String, "", Yes),
        new("client-cert-allowed-hostname", EtcdFlagKind.String, "", No),
        new("trusted-ca-file", EtcdFlagKind.String, "", Yes),
        new("auto-tls", EtcdFlagKind.Bool, "false", Yes),
        new("peer-cert-file", EtcdFlagKind.String, "", Yes),
        new("peer-key-file", EtcdFlagKind.String, "", Yes),
        new("peer-client-cert-auth", EtcdFlagKind.Bool, "false", Yes),
        new("peer-client-cert-file", EtcdFlagKind.String, "", Yes),
        new("peer-client-key-file", EtcdFlagKind.String, "", Yes),
        new("peer-trusted-ca-file", EtcdFlagKind.String, "", Yes),
        new("peer-cert-allowed-cn", EtcdFlagKind.String, "", Yes),
        new("peer-cert-allowed-hostname", EtcdFlagKind.String, "", No),
        new("peer-auto-tls", EtcdFlagKind.Bool, "false", Yes),
        new("self-signed-cert-validity", EtcdFlagKind.UInt, "1", Yes),
        new("peer-crl-file", EtcdFlagKind.String, "", Yes),
        new("cipher-suites", EtcdFlagKind.StringList, "", Yes),
        new("cors", EtcdFlagKind.StringList, "*", Yes),
        new("host-whitelist", EtcdFlagKind.StringList, "*", No),
        new("tls-min-version", EtcdFlagKind.String, "TLS1.2", Yes),
        new("tls-max-version", EtcdFlagKind.String, "", Yes),

        // Auth
        new("auth-token", EtcdFlagKind.String, "simple", Yes),
        new("bcrypt-cost", EtcdFlagKind.UInt, "10", Yes),
        new("auth-token-ttl", EtcdFlagKind.UInt, "300", Yes),

        // Profiling and monitoring
        new("enable-pprof", EtcdFlagKind.Bool, "false", No),
        new("metrics", EtcdFlagKind.Choice, "basic", Yes, ["basic", "extensive"]),
        new("listen-metrics-urls", EtcdFlagKind.UrlList, "", Yes),

        // Logging
        new("logger", EtcdFlagKind.String, "zap", No),
        new("log-outputs", EtcdFlagKind.StringList, "default", No),
        new("log-level", EtcdFlagKind.Choice, "info", Yes, ["debug", "info", "warn", "error", "panic", "fatal"]),
        new("enable-log-rotation", EtcdFlagKind.Bool, "false", No),
        new("log-rotation-config-json", EtcdFlagKind.String,
            """{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}""", No),

        // Experimental distributed tracing
        new("experimental-enable-distributed-tracing", EtcdFlagKind.Bool, "false", No),
        new("experimental-distributed-tracing-address", EtcdFlagKind.String, "localhost:4317", No),
        new("experimental-distributed-tracing-service-name", EtcdFlagKind.String, "etcd", No),
        new("experimental-distributed-tracing-instance-id", EtcdFlagKind.String, "", No),
        new("experimental-distributed-tracing-sampling-rate", EtcdFlagKind.Int, "0", No),

        // v2 proxy (removed in 3.6)
        new("proxy", EtcdFlagKind.Choice, "off", No, ["off", "readonly", "on"]),
        new("proxy-failure-wait", EtcdFlagKind.UInt, "5000", No),
        new("proxy-refresh-interval", EtcdFlagKind.UInt, "30000", No),
        new("proxy-dial-timeout", EtcdFlagKind.UInt, "1000", No),
        new("proxy-write-timeout", EtcdFlagKind.UInt, "5000", No),
        new("proxy-read-timeout", EtcdFlagKind.UInt, "0", No),

        // Experimental
        new("experimental-initial-corrupt-check", EtcdFlagKind.Bool, "false", Yes),
        new("experimental-corrupt-check-time", EtcdFlagKind.Duration, "0s", Yes),
        new("experimental-compact-hash-check-enabled", EtcdFlagKind.Bool, "false", No),
        new("experimental-compact-hash-check-time", EtcdFlagKind.Duration, "1m", No),
        new("experimental-enable-v2v3", EtcdFlagKind.String, "", No),
        new("experimental-enable-lease-checkpoint", EtcdFlagKind.Bool, "false", Yes),
        new("experimental-enable-lease-checkpoint-persist", EtcdFlagKind.Bool, "false", No),
        new("experimental-compaction-batch-limit", EtcdFlagKind.Int, "1000", No),
        new("experimental-compaction-sleep-interval", EtcdFlagKind.Duration, "10ms", No),
        new("experimental-peer-skip-client-san-verification", EtcdFlagKind.Bool, "false", No),
        new("experimental-watch-progress-notify-interval", EtcdFlagKind.Duration, "10m", No),
        new("experimental-downgrade-check-time", EtcdFlagKind.Duration, "5s", No),
        new("experimental-warning-apply-duration", EtcdFlagKind.Duration, "100ms", Yes),
        // etcd 3.6's name for the same setting; issue 9 asks for it, so HttpKv accepts both.
        new("warning-apply-duration", EtcdFlagKind.Duration, "100ms", Yes),
        new("experimental-warning-unary-request-duration", EtcdFlagKind.Duration, "300ms", No),
        new("experimental-memory-mlock", EtcdFlagKind.Bool, "false", No),
        new("experimental-txn-mode-write-with-shared-buffer", EtcdFlagKind.Bool, "true", No),
        new("experimental-bootstrap-defrag-threshold-megabytes", EtcdFlagKind.UInt, "0", No),
        new("experimental-max-learners", EtcdFlagKind.Int, "1", Yes),
        // etcd 3.6's name for the same setting; issue 4 asks for it, so HttpKv accepts both.
        new("max-learners", EtcdFlagKind.Int, "1", Yes),
        new("experimental-snapshot-catchup-entries", EtcdFlagKind.UInt, "5000", Yes),
        new("experimental-stop-grpc-service-on-defrag", EtcdFlagKind.Bool, "false", No),

        // Unsafe
        new("force-new-cluster", EtcdFlagKind.Bool, "false", No),
        new("unsafe-no-fsync", EtcdFlagKind.Bool, "false", No),

        // Gateway, configuration file, process
        new("enable-grpc-gateway", EtcdFlagKind.Bool, "true", Yes),
        new("config-file", EtcdFlagKind.String, "", No),
        new("version", EtcdFlagKind.Bool, "false", Yes),
        new("help", EtcdFlagKind.Bool, "false", Yes),

        // Pre-v3 flags etcd registers as IgnoredFlag (etcdmain's `ignored` list).
        new("cluster-active-size", EtcdFlagKind.Ignored, "", No),
        new("cluster-remove-delay", EtcdFlagKind.Ignored, "", No),
        new("cluster-sync-interval", EtcdFlagKind.Ignored, "", No),
        new("config", EtcdFlagKind.Ignored, "", No),
        new("force", EtcdFlagKind.Ignored, "", No),
        new("max-result-buffer", EtcdFlagKind.Ignored, "", No),
        new("max-retry-attempts", EtcdFlagKind.Ignored, "", No),
        new("peer-heartbeat-interval", EtcdFlagKind.Ignored, "", No),
        new("peer-election-timeout", EtcdFlagKind.Ignored, "", No),
        new("retry-interval", EtcdFlagKind.Ignored, "", No),
        new("snapshot", EtcdFlagKind.Ignored, "", No),
        new("v", EtcdFlagKind.Ignored, "", No),
        new("vv", EtcdFlagKind.Ignored, "", No),
    ];

    private static readonly FrozenDictionary<string, EtcdFlag> ByName =
        All.ToFrozenDictionary(flag => flag.Name, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, EtcdFlag> ByEnvironmentVariable =
        All.SelectMany(flag => new[]
            {
                KeyValuePair.Create(flag.EtcdEnvironmentVariable, flag),
                KeyValuePair.Create(flag.HttpKvEnvironmentVariable, flag),
            })
            .ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Finds a flag by its name without dashes (case-sensitive, as Go's flag package is).</summary>
    public static bool TryFind(string name, out EtcdFlag flag) => ByName.TryGetValue(name, out flag!);

    /// <summary>Finds a flag by its <c>ETCD_*</c> or <c>HTTPKV_*</c> environment variable.</summary>
    public static bool TryFindByEnvironmentVariable(string variable, out EtcdFlag flag) =>
        ByEnvironmentVariable.TryGetValue(variable, out flag!);
}
