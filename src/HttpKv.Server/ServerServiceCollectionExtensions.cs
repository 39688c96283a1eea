using Microsoft.Extensions.DependencyInjection;

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
            .Validate(options => options.AutoCompactionMode is "periodic" or "revision",
                "--auto-compaction-mode must be 'periodic' or 'revision'")
            .ValidateOnStart();
        services.AddSingleton<MemberHost>();
        services.AddHostedService(provider => provider.GetRequiredService<MemberHost>());
        services.AddSingleton<IKvService, KvServer>();
        return services;
    }
}
