using HttpKv.Server.Compaction;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace HttpKv.Server;

public static class ServerServiceCollectionExtensions
{
    /// <summary>The member and its KV service, configured from the <c>HttpKv</c> configuration section.</summary>
    public static IServiceCollection AddHttpKvMember(this IServiceCollection services)
    {
        services.AddOptions<MemberOptions>()
            .BindConfiguration(MemberOptions.Section)
            .Validate(options => options.MaxRequestBytes > 0, "--max-request-bytes must be positive")
            .Validate(options => options.MaxTxnOps > 0, "--max-txn-ops must be positive")
            .Validate(options => options.LeaseCheckpointInterval > TimeSpan.Zero, "the lease checkpoint interval must be positive")
            .Validate(options => IsValidAutoCompaction(options), "invalid --auto-compaction-mode or --auto-compaction-retention")
            .Validate(options => options.BcryptCost is >= 4 and <= 31, "--bcrypt-cost must be between 4 and 31")
            .Validate(options => options.AuthTokenTtl > 0, "--auth-token-ttl must be positive")
            .Validate(options => GoDuration.TryParse(options.WarningApplyDuration ?? options.ExperimentalWarningApplyDuration, out _),
                "invalid --warning-apply-duration")
            .Validate(options => options.Metrics is "basic" or "extensive", "--metrics must be basic or extensive")
            .Validate(options => CorsOrigins.TryParse(options.Cors, out _), "--cors takes * or a comma-separated list of origin URLs")
            .ValidateOnStart();
        services.TryAddSingleton(provider => Transport.TransportSecurity.Load(
            provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<MemberOptions>>().Value,
            provider.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().CreateLogger("HttpKv.Server.Transport")));
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<MemberOptions>>().Value;
            return Auth.TokenProviders.Parse(options.AuthToken, TimeSpan.FromSeconds(options.AuthTokenTtl));
        });
        services.TryAddSingleton(provider => provider.GetRequiredService<Auth.TokenProviderFactory>().Create(provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<MemberHost>();
        services.AddHostedService(provider => provider.GetRequiredService<MemberHost>());
        services.AddSingleton<IKvService, KvServer>();
        services.AddSingleton<IKeyHistoryService, KeyHistoryServer>();
        services.AddSingleton<IClusterService, ClusterServer>();
        services.AddSingleton<IMaintenanceService, MaintenanceServer>();
        services.AddSingleton<Maintenance.ISnapshotService, Maintenance.SnapshotServer>();
        services.AddSingleton<Leases.ILeaseService, Leases.LeaseServer>();
        services.AddSingleton<Auth.IAuthService, Auth.AuthServer>();
        services.AddSingleton<Auth.Authorizer>();
        services.AddSingleton<Concurrency.ConcurrencyServer>();
        services.AddSingleton<Concurrency.ILockService>(provider => provider.GetRequiredService<Concurrency.ConcurrencyServer>());
        services.AddSingleton<Concurrency.IElectionService>(provider => provider.GetRequiredService<Concurrency.ConcurrencyServer>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<AutoCompactor>();
        return services;
    }

    private static bool IsValidAutoCompaction(MemberOptions options)
    {
        try
        {
            AutoCompactionPolicy.Parse(options.AutoCompactionMode, options.AutoCompactionRetention);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
