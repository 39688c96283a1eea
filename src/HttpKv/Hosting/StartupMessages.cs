using HttpKv.Server;
using HttpKv.Server.Transport;

namespace HttpKv.Hosting;

/// <summary>Logs the flag warnings at start and, once the member is open and the client port accepts connections,
/// the start-up lines etcd's tooling waits for, in etcd's wording.</summary>
public sealed class StartupMessages(IServiceProvider services, IReadOnlyList<string> flagWarnings) : IHostedService
{
    private readonly ILogger logger = services.GetRequiredService<ILogger<StartupMessages>>();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var warning in flagWarnings) logger.LogWarning("{Warning:l}", warning);
        var security = services.GetRequiredService<TransportSecurity>();
        LogTls(security.Peer);
        LogTls(security.Client);
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        var host = services.GetRequiredService<MemberHost>();
        lifetime.ApplicationStarted.Register(() => _ = LogWhenReadyAsync(host));
        return Task.CompletedTask;
    }

    private async Task LogWhenReadyAsync(MemberHost host)
    {
        MemberIdentity identity;
        try
        {
            identity = (await host.Ready).Identity;
        }
        catch (Exception)
        {
            return; // the member failed to open or stopped first; MemberHost has reported why
        }
        var published = $"{{Name:{identity.Name} ClientURLs:[{string.Join(' ', identity.ClientUrls)}]}}";
        logger.LogInformation("published {Member:l} to cluster {ClusterId:l}", published, MemberIds.ToHex(identity.ClusterId));
        logger.LogInformation("enabled capabilities for version {Version:l}", "3.5");
        foreach (var url in MemberOptions.SplitUrls(host.Options.ListenClientUrls))
        {
            if (ClientUrls.IsTls(url)) logger.LogInformation("serving client traffic securely on {Address:l}", url);
            else logger.LogInformation("serving client traffic insecurely on {Address:l}; this is strongly discouraged!", url);
        }
        logger.LogInformation("ready to serve client requests");
    }

    /// <summary>etcd's "starting with client TLS" / "starting with peer TLS" lines.</summary>
    private void LogTls(TlsEndpointSecurity side)
    {
        if (!side.IsEnabled) return;
        var versions = side.Protocols switch
        {
            System.Security.Authentication.SslProtocols.Tls12 => "TLS1.2",
            System.Security.Authentication.SslProtocols.Tls13 => "TLS1.3",
            _ => "TLS1.2-TLS1.3",
        };
        logger.LogInformation("starting with {Side:l} TLS: tls-info {TlsInfo:l}, cipher-suites [{CipherSuites:l}], versions {Versions:l}",
            side.Side, side.Description, string.Join(' ', side.CipherSuiteNames), versions);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
