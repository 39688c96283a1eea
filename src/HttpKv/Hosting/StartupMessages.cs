using HttpKv.Server;

namespace HttpKv.Hosting;

/// <summary>The start-up lines etcd's tooling waits for, in etcd's wording, logged once the client port accepts connections.</summary>
public static class StartupMessages
{
    public static void Log(ILogger logger, MemberIdentity identity)
    {
        var published = $"{{Name:{identity.Name} ClientURLs:[{string.Join(' ', identity.ClientUrls)}]}}";
        logger.LogInformation("published {Member:l} to cluster {ClusterId:l}", published, identity.ClusterId.ToString("x"));
        logger.LogInformation("enabled capabilities for version {Version:l}", "3.5");
        logger.LogInformation("ready to serve client requests");
    }
}
