namespace HttpKv.Server;

/// <summary>The settings of one member, bound from the configuration section <c>HttpKv</c>
/// (command-line flags and ETCD_*/HTTPKV_* variables are mapped onto the same keys).
/// Names follow etcd's flags; units are in the names.</summary>
public sealed class MemberOptions
{
    public const string Section = "HttpKv";

    public string Name { get; set; } = "default";
    /// <summary>Empty means <c>./{name}.httpkv</c> (etcd's own default is <c>{name}.etcd</c>).</summary>
    public string DataDir { get; set; } = "";
    /// <summary>Where the WAL lives; empty means <c>{data-dir}/member/wal</c>, as etcd's --wal-dir.</summary>
    public string WalDir { get; set; } = "";
    /// <summary>Serve the /v3 JSON gateway routes (etcd's --enable-grpc-gateway).</summary>
    public bool EnableGrpcGateway { get; set; } = true;
    public string ListenClientUrls { get; set; } = "http://localhost:2379";
    public string AdvertiseClientUrls { get; set; } = "http://localhost:2379";
    public string ListenPeerUrls { get; set; } = "http://localhost:2380";
    public string InitialAdvertisePeerUrls { get; set; } = "http://localhost:2380";
    public string InitialCluster { get; set; } = "";
    public string InitialClusterToken { get; set; } = "etcd-cluster";
    public string InitialClusterState { get; set; } = "new";
    public int MaxRequestBytes { get; set; } = 1536 * 1024;
    public int MaxTxnOps { get; set; } = 128;
    /// <summary>Compare this member's HashKV with its peers' before serving; refuse to start on a mismatch.</summary>
    public bool ExperimentalInitialCorruptCheck { get; set; }
    /// <summary>How often the leader compares the members' HashKV (a Go duration; 0 = never).</summary>
    public string ExperimentalCorruptCheckTime { get; set; } = "0s";
    public TimeSpan CorruptCheckInterval => GoDuration.Parse(ExperimentalCorruptCheckTime);
    /// <summary>etcd's backend quota; 0 means etcd's default of 2 GiB; negative: no quota.</summary>
    public long QuotaBackendBytes { get; set; }
    /// <summary>Applied entries between backend syncs that let the WAL release its older segments (etcd's default).</summary>
    public ulong SnapshotCount { get; set; } = 100_000;
    /// <summary>Entries a snapshot leaves in the Raft log behind it, so that a slightly slow follower catches up
    /// without a snapshot (etcd 3.5.14's --experimental-snapshot-catchup-entries).</summary>
    public ulong ExperimentalSnapshotCatchupEntries { get; set; } = 5000;
    public string AutoCompactionMode { get; set; } = "periodic";
    public string AutoCompactionRetention { get; set; } = "0";
    public string LogLevel { get; set; } = "info";
    /// <summary>Refuse membership changes that would leave fewer voters up than a quorum (etcd's default: on).</summary>
    public bool StrictReconfigCheck { get; set; } = true;
    /// <summary>How many learners the cluster may have at once: etcd 3.6's --max-learners, or 3.5's
    /// --experimental-max-learners when that is the one given.</summary>
    public int? MaxLearners { get; set; }
    public int ExperimentalMaxLearners { get; set; } = 1;
    public int EffectiveMaxLearners => MaxLearners ?? ExperimentalMaxLearners;
    /// <summary>Milliseconds between Raft heartbeats (one Raft tick), etcd's --heartbeat-interval.</summary>
    public int HeartbeatInterval { get; set; } = 100;
    /// <summary>Milliseconds without a leader before a member campaigns, etcd's --election-timeout.</summary>
    public int ElectionTimeout { get; set; } = 1000;

    // Transport security (etcd's "Security" flags; docs/security.md). Files are PEM.
    /// <summary>The client URLs' server certificate and its key (etcd's --cert-file, --key-file).</summary>
    public string CertFile { get; set; } = "";
    public string KeyFile { get; set; } = "";
    /// <summary>Refuse clients without a certificate signed by <see cref="TrustedCaFile"/> during the handshake.</summary>
    public bool ClientCertAuth { get; set; }
    public string TrustedCaFile { get; set; } = "";
    /// <summary>The certificate this member presents when it calls another member's client URL (lease forwarding);
    /// empty means <see cref="CertFile"/>.</summary>
    public string ClientCertFile { get; set; } = "";
    public string ClientKeyFile { get; set; } = "";
    /// <summary>Serve https client URLs with a self-signed certificate made under {data-dir}/fixtures/client.</summary>
    public bool AutoTls { get; set; }
    public string PeerCertFile { get; set; } = "";
    public string PeerKeyFile { get; set; } = "";
    /// <summary>Refuse members without a certificate signed by <see cref="PeerTrustedCaFile"/> on the peer port.</summary>
    public bool PeerClientCertAuth { get; set; }
    public string PeerTrustedCaFile { get; set; } = "";
    /// <summary>The certificate presented when dialing other members; empty means <see cref="PeerCertFile"/>.</summary>
    public string PeerClientCertFile { get; set; } = "";
    public string PeerClientKeyFile { get; set; } = "";
    /// <summary>With <see cref="PeerClientCertAuth"/>: the only common name a member's certificate may carry.</summary>
    public string PeerCertAllowedCn { get; set; } = "";
    /// <summary>Serve https peer URLs with a self-signed certificate under {data-dir}/fixtures/peer; members then
    /// do not verify each other's certificates, as etcd.</summary>
    public bool PeerAutoTls { get; set; }
    /// <summary>Years a self-signed (--auto-tls, --peer-auto-tls) certificate is valid.</summary>
    public int SelfSignedCertValidity { get; set; } = 1;
    /// <summary>A certificate revocation list (PEM or DER): client certificates it revokes are refused in the handshake.</summary>
    public string ClientCrlFile { get; set; } = "";
    /// <summary>As <see cref="ClientCrlFile"/>, for the certificates other members present on the peer port.</summary>
    public string PeerCrlFile { get; set; } = "";
    /// <summary>Comma-separated Go names of the TLS 1.2 cipher suites allowed (empty: the platform's defaults).</summary>
    public string CipherSuites { get; set; } = "";
    /// <summary>Comma-separated origins whose browser pages may call the HTTP routes (CORS), as etcd's <c>--cors</c>:
    /// <c>*</c> or empty allows every origin.</summary>
    public string Cors { get; set; } = "*";
    /// <summary>TLS1.2 or TLS1.3.</summary>
    public string TlsMinVersion { get; set; } = "TLS1.2";
    /// <summary>Empty (no maximum), TLS1.2 or TLS1.3.</summary>
    public string TlsMaxVersion { get; set; } = "";

    /// <summary>etcd's --experimental-enable-lease-checkpoint: the leader proposes the leases' remaining TTLs every
    /// <see cref="LeaseCheckpointInterval"/>, so a new leader does not give them their whole TTL again.</summary>
    public bool ExperimentalEnableLeaseCheckpoint { get; set; }

    /// <summary>How often the leader checkpoints lease TTLs (etcd's default 5 minutes; etcd has no flag for it, so
    /// it is set in appsettings.json or HttpKv__LeaseCheckpointInterval).</summary>
    public TimeSpan LeaseCheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>HttpKv's own setting (no etcd flag): dial other members from the address of --listen-peer-urls, so a
    /// fault injector between members (the robustness harness) can tell the callers apart on one host.</summary>
    public bool PeerBindSource { get; set; }

    /// <summary>HttpKv's own setting (no etcd flag): the size past which a WAL segment is closed and the next one
    /// started (etcd's 64 MB). Smaller segments let tests damage a middle segment without writing 128 MB.</summary>
    public long WalSegmentSizeBytes { get; set; } = 64L << 20;

    /// <summary>etcd's --listen-metrics-urls: more listeners that serve only /metrics and the health probes (/health,
    /// /livez, /readyz), e.g. plain http for a scraper while the client URLs require client certificates.</summary>
    public string ListenMetricsUrls { get; set; } = "";
    /// <summary>etcd's --metrics: <c>basic</c>, or <c>extensive</c> (adds the gRPC handling-time histogram).</summary>
    public string Metrics { get; set; } = "basic";
    /// <summary>A request slower than this is logged as a warning with its details: etcd 3.6's --warning-apply-duration,
    /// or 3.5's --experimental-warning-apply-duration when that is the one given (Go durations, etcd's 100ms).</summary>
    public string? WarningApplyDuration { get; set; }
    public string ExperimentalWarningApplyDuration { get; set; } = "100ms";
    public TimeSpan EffectiveWarningApplyDuration => GoDuration.Parse(WarningApplyDuration ?? ExperimentalWarningApplyDuration);

    /// <summary>etcd's --auth-token: <c>simple</c>, or <c>jwt,pub-key=…,priv-key=…,sign-method=RS256,ttl=5m</c>.</summary>
    public string AuthToken { get; set; } = "simple";
    /// <summary>Seconds a simple token lives after its last use (etcd's --auth-token-ttl).</summary>
    public int AuthTokenTtl { get; set; } = 300;
    /// <summary>bcrypt's cost for password hashes (etcd's --bcrypt-cost, 4 to 31).</summary>
    public int BcryptCost { get; set; } = 10;

    public const long DefaultQuotaBackendBytes = 2L << 30;

    /// <summary>The address space LMDB reserves for the backend file (sparse: it costs no disk until used): room for
    /// the quota twice over, and never less than etcd's suggested maximum quota of 8 GiB.</summary>
    public long BackendMapSizeBytes => Math.Max(8L << 30, 2 * (QuotaBackendBytes > 0 ? QuotaBackendBytes : DefaultQuotaBackendBytes));

    public string ResolvedDataDir => string.IsNullOrEmpty(DataDir) ? $"{Name}.httpkv" : DataDir;

    public static IReadOnlyList<string> SplitUrls(string urls) =>
        urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
