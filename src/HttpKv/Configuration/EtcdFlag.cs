namespace HttpKv.Configuration;

/// <summary>How etcd's Go <c>flag</c> package parses a flag's value.</summary>
public enum EtcdFlagKind
{
    /// <summary>Any text.</summary>
    String,
    /// <summary>Go <c>strconv.ParseBool</c>; a bare <c>--flag</c> means true and consumes no argument.</summary>
    Bool,
    /// <summary>Signed 64-bit integer (Go <c>int</c> / <c>int64</c>, base prefix allowed).</summary>
    Int,
    /// <summary>Unsigned 64-bit integer (Go <c>uint</c> / <c>uint64</c>).</summary>
    UInt,
    /// <summary>Unsigned 32-bit integer (etcd's <c>Uint32Value</c>).</summary>
    UInt32,
    /// <summary>Go <c>time.ParseDuration</c> text such as <c>100ms</c>, <c>2h45m</c>, <c>0</c>.</summary>
    Duration,
    /// <summary>Comma-separated absolute URLs (http, https, unix, unixs).</summary>
    UrlList,
    /// <summary>Comma-separated strings.</summary>
    StringList,
    /// <summary>One value out of a fixed set (etcd's <c>SelectiveStringValue</c>).</summary>
    Choice,
    /// <summary>Pre-v3 flags etcd still accepts and throws away (etcd's <c>IgnoredFlag</c>, parsed as a bool).</summary>
    Ignored,
}

/// <summary>
/// One flag of the etcd 3.5 server command line.
/// </summary>
/// <param name="Name">The flag without dashes, e.g. <c>data-dir</c>.</param>
/// <param name="Kind">How the value is parsed and validated.</param>
/// <param name="EtcdDefault">etcd 3.5's default, as <c>etcd --help</c> prints it.</param>
/// <param name="Implemented">True when HttpKv acts on the flag; false when it is accepted and ignored with a warning.</param>
/// <param name="Choices">For <see cref="EtcdFlagKind.Choice"/>: the accepted values.</param>
public sealed record EtcdFlag(
    string Name,
    EtcdFlagKind Kind,
    string EtcdDefault,
    bool Implemented,
    IReadOnlyList<string>? Choices = null)
{
    /// <summary>The Microsoft.Extensions.Configuration key: <c>HttpKv:</c> + PascalCase of the name (<c>HttpKv:DataDir</c>).</summary>
    public string ConfigurationKey { get; } = "HttpKv:" + ToPascalCase(Name);

    /// <summary>etcd's environment variable: <c>ETCD_</c> + upper case, dashes to underscores (<c>ETCD_DATA_DIR</c>).</summary>
    public string EtcdEnvironmentVariable { get; } = EnvironmentVariableFor("ETCD", Name);

    /// <summary>HttpKv's alias of <see cref="EtcdEnvironmentVariable"/> (<c>HTTPKV_DATA_DIR</c>).</summary>
    public string HttpKvEnvironmentVariable { get; } = EnvironmentVariableFor("HTTPKV", Name);

    /// <summary>Go's <c>flag.Value.IsBoolFlag</c>: the flag takes no separate argument.</summary>
    public bool IsBoolean => Kind is EtcdFlagKind.Bool or EtcdFlagKind.Ignored;

    /// <summary>etcd's <c>flags.FlagToEnv</c>: prefix + "_" + upper case name with '-' (and '.') as '_'.</summary>
    public static string EnvironmentVariableFor(string prefix, string flagName) =>
        prefix + "_" + flagName.ToUpperInvariant().Replace('-', '_').Replace('.', '_');

    private static string ToPascalCase(string flagName)
    {
        var words = flagName.Split('-', '.');
        return string.Concat(words.Select(word => word.Length == 0 ? word : char.ToUpperInvariant(word[0]) + word[1..]));
    }
}
