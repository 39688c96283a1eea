using HttpKv.Server;
using HttpKv.Configuration;

namespace HttpKv.Hosting;

/// <summary>What <c>httpkv --version</c> and <c>httpkv --help</c> print.</summary>
public static class CommandLineText
{
    public static string Version() =>
        $"httpkv Version: {typeof(CommandLineText).Assembly.GetName().Version}\netcd API Version: {EtcdVersion.Server}";

    public static string Usage()
    {
        var lines = new List<string> { "Usage: httpkv [flags]   (etcd's flags and ETCD_*/HTTPKV_* variables; see docs/configuration.md)", "" };
        lines.AddRange(EtcdFlags.All.Select(flag =>
            $"  --{flag.Name,-48} default '{flag.EtcdDefault}'{(flag.Implemented ? "" : "  (accepted, not implemented)")}"));
        return string.Join('\n', lines);
    }
}
