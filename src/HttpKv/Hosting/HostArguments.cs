namespace HttpKv.Hosting;

/// <summary>Separates what belongs to the .NET host from etcd's flags: the host's own switches (<c>--environment</c>,
/// <c>--contentRoot</c>, <c>--applicationName</c>) and configuration keys (<c>--HttpKv:DataDir=…</c>, any name with a
/// <c>:</c>, or the section name <c>--HttpKv</c>), which hosting tools such as WebApplicationFactory pass.
/// No etcd flag has a colon in its name; everything else is an etcd flag.</summary>
public static class HostArguments
{
    private static readonly string[] HostSwitches = ["--environment", "--contentRoot", "--applicationName"];

    public static (string[] Host, string[] Etcd) Split(string[] args)
    {
        var host = new List<string>();
        var etcd = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].Split('=', 2)[0];
            if (!IsHostArgument(name))
            {
                etcd.Add(args[i]);
                continue;
            }
            host.Add(args[i]);
            if (!args[i].Contains('=') && i + 1 < args.Length) host.Add(args[++i]);
        }
        return (host.ToArray(), etcd.ToArray());
    }

    private static bool IsHostArgument(string name) =>
        HostSwitches.Contains(name, StringComparer.OrdinalIgnoreCase)
        || name.StartsWith("--", StringComparison.Ordinal) && name.Contains(':')
        || name.Equals("--" + HttpKv.Server.MemberOptions.Section, StringComparison.OrdinalIgnoreCase);
}
