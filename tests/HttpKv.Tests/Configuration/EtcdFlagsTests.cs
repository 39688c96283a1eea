using HttpKv.Configuration;

namespace HttpKv.Tests.Configuration;

public sealed class EtcdFlagsTests
{
    private static readonly string[] ImplementedNow =
    [
        "name", "data-dir", "wal-dir", "listen-client-urls", "advertise-client-urls", "listen-peer-urls",
        "initial-advertise-peer-urls", "initial-cluster", "initial-cluster-token", "initial-cluster-state",
        "max-request-bytes", "max-txn-ops", "quota-backend-bytes", "log-level",
        "auto-compaction-mode", "auto-compaction-retention", "snapshot-count", "heartbeat-interval",
        "election-timeout", "enable-grpc-gateway", "strict-reconfig-check", "experimental-max-learners", "experimental-enable-lease-checkpoint", "experimental-snapshot-catchup-entries", "max-learners", "version", "help",
        "auth-token", "auth-token-ttl", "bcrypt-cost",
        // Transport security (issue 6)
        "cert-file", "key-file", "client-cert-auth", "client-cert-file", "client-key-file", "trusted-ca-file", "auto-tls",
        "peer-cert-file", "peer-key-file", "peer-client-cert-auth", "peer-client-cert-file", "peer-client-key-file",
        "peer-trusted-ca-file", "peer-cert-allowed-cn", "peer-auto-tls", "self-signed-cert-validity", "cipher-suites",
        "tls-min-version", "tls-max-version",
        // Metrics, health and request logs (issue 9)
        "metrics", "listen-metrics-urls", "experimental-warning-apply-duration", "warning-apply-duration",
        // Operations (issue 9)
        "experimental-initial-corrupt-check", "experimental-corrupt-check-time",
        // Wire fidelity (issue 18)
        "cors", "client-crl-file", "peer-crl-file",
    ];

    /// <summary>A flag marked implemented must reach the member: its configuration key binds a MemberOptions property.</summary>
    [Fact]
    public void Every_implemented_flag_binds_a_member_option()
    {
        var properties = typeof(HttpKv.Server.MemberOptions).GetProperties().Select(property => property.Name).ToHashSet();
        var unbound = EtcdFlags.All
            .Where(flag => flag.Implemented && flag.Name is not ("version" or "help"))
            .Where(flag => !properties.Contains(flag.ConfigurationKey["HttpKv:".Length..]))
            .Select(flag => flag.Name);
        Assert.Empty(unbound);
    }

    [Fact]
    public void Exactly_the_agreed_flags_are_implemented()
    {
        var implemented = EtcdFlags.All.Where(flag => flag.Implemented).Select(flag => flag.Name).Order(StringComparer.Ordinal);

        Assert.Equal(ImplementedNow.Order(StringComparer.Ordinal), implemented);
    }

    [Fact]
    public void Names_are_unique()
    {
        Assert.Equal(EtcdFlags.All.Count, EtcdFlags.All.Select(flag => flag.Name).Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("data-dir", "HttpKv:DataDir", "ETCD_DATA_DIR", "HTTPKV_DATA_DIR")]
    [InlineData("listen-client-urls", "HttpKv:ListenClientUrls", "ETCD_LISTEN_CLIENT_URLS", "HTTPKV_LISTEN_CLIENT_URLS")]
    [InlineData("enable-grpc-gateway", "HttpKv:EnableGrpcGateway", "ETCD_ENABLE_GRPC_GATEWAY", "HTTPKV_ENABLE_GRPC_GATEWAY")]
    public void Keys_and_environment_names_derive_from_the_flag_name(string name, string key, string etcdVariable, string httpKvVariable)
    {
        Assert.True(EtcdFlags.TryFind(name, out var flag));
        Assert.Equal(key, flag.ConfigurationKey);
        Assert.Equal(etcdVariable, flag.EtcdEnvironmentVariable);
        Assert.Equal(httpKvVariable, flag.HttpKvEnvironmentVariable);
    }

    [Fact]
    public void Every_non_string_default_is_a_valid_value_of_its_kind()
    {
        foreach (var flag in EtcdFlags.All.Where(flag => flag.Kind is not EtcdFlagKind.Ignored))
        {
            var result = EtcdCommandLine.Parse([$"--{flag.Name}={flag.EtcdDefault}"], new Dictionary<string, string?>());
            Assert.True(result.Errors.Count == 0, $"{flag.Name}: {string.Join("; ", result.Errors)}");
        }
    }
}
