namespace HttpKv.Configuration;

/// <summary>What <see cref="EtcdCommandLine.Parse"/> found.</summary>
/// <param name="Settings">Configuration key → value for implemented flags that were given on the command line or in the environment. Feed it to <c>AddInMemoryCollection</c> last, so it overrides appsettings.json.</param>
/// <param name="Warnings">Accepted-but-ignored flags and unrecognized <c>ETCD_*</c> variables, one message each.</param>
/// <param name="Errors">Unknown flags and bad values, in etcd's wording; non-empty means exit with status 2.</param>
/// <param name="ShowHelp">True for <c>-h</c> / <c>--help</c>: print usage and exit 0.</param>
/// <param name="ShowVersion">True for <c>--version</c>: print the version and exit 0.</param>
public sealed record EtcdCommandLineResult(
    IReadOnlyDictionary<string, string?> Settings,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Errors,
    bool ShowHelp,
    bool ShowVersion)
{
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// Parses the etcd server command line and environment as etcd 3.5 does (Go's <c>flag</c> package
/// plus etcd's <c>flags.SetFlagsFromEnv</c>).
/// </summary>
/// <remarks>
/// Spellings: <c>--flag value</c>, <c>--flag=value</c>, <c>-flag value</c>, <c>-flag=value</c>.
/// A boolean flag never takes the next argument: <c>--client-cert-auth</c> is true, <c>--client-cert-auth=false</c> false.
/// Parsing stops at <c>--</c> or at the first argument that is not a flag; anything left over is an error,
/// as in etcd (<c>'x' is not a valid flag</c>).
/// Precedence: command line &gt; <c>HTTPKV_*</c> &gt; <c>ETCD_*</c> &gt; appsettings.json &gt; defaults. This parser
/// emits only what was given, so the layers below it stay in charge of everything else.
/// </remarks>
public static class EtcdCommandLine
{
    /// <summary>Parses <paramref name="args"/> (without the program name) and the process <paramref name="environment"/>.</summary>
    public static EtcdCommandLineResult Parse(string[] args, IReadOnlyDictionary<string, string?> environment)
    {
        var state = new ParseState();
        ParseArguments(args, state);
        if (state.Errors.Count == 0 && !state.ShowHelp)
        {
            ApplyEnvironment(environment, state);
        }
        return new EtcdCommandLineResult(state.Settings, state.Warnings, state.Errors, state.ShowHelp, state.ShowVersion);
    }

    private sealed class ParseState
    {
        public Dictionary<string, string?> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);
        public List<string> Warnings { get; } = [];
        public List<string> Errors { get; } = [];
        public HashSet<string> SetOnCommandLine { get; } = new(StringComparer.Ordinal);
        public bool ShowHelp { get; set; }
        public bool ShowVersion { get; set; }
    }

    private static void ParseArguments(string[] args, ParseState state)
    {
        var index = 0;
        while (index < args.Length)
        {
            var argument = args[index];
            if (argument.Length < 2 || argument[0] != '-')
            {
                state.Errors.Add($"'{argument}' is not a valid flag");
                return; // Go's flag package stops here; etcd rejects the leftover argument.
            }
            if (argument == "--")
            {
                if (index + 1 < args.Length)
                {
                    state.Errors.Add($"'{args[index + 1]}' is not a valid flag");
                }
                return;
            }
            index++;
            if (!ParseOne(argument, args, ref index, state))
            {
                return; // Go's flag.ContinueOnError: the first error ends parsing.
            }
        }
    }

    /// <summary>One flag at args[index - 1]; may consume args[index] as its value. False on error.</summary>
    private static bool ParseOne(string argument, string[] args, ref int index, ParseState state)
    {
        var body = argument[1] == '-' ? argument[2..] : argument[1..];
        if (body.Length == 0 || body[0] == '-' || body[0] == '=')
        {
            state.Errors.Add($"bad flag syntax: {argument}");
            return false;
        }
        var equals = body.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? body : body[..equals];
        string? value = equals < 0 ? null : body[(equals + 1)..];

        if (!EtcdFlags.TryFind(name, out var flag))
        {
            if (name is "h")
            {
                state.ShowHelp = true; // Go's flag package answers -h with flag.ErrHelp.
                return true;
            }
            state.Errors.Add($"flag provided but not defined: -{name}");
            return false;
        }
        if (flag.IsBoolean)
        {
            value ??= "true";
            if (flag.Kind == EtcdFlagKind.Bool && EtcdFlagValues.ParseGoBool(value) is null)
            {
                state.Errors.Add($"invalid boolean value {EtcdFlagValues.Quote(value)} for -{name}: parse error");
                return false;
            }
        }
        else if (value is null)
        {
            if (index >= args.Length)
            {
                state.Errors.Add($"flag needs an argument: -{name}");
                return false;
            }
            value = args[index++];
        }
        var normalized = EtcdFlagValues.Normalize(flag, value);
        if (normalized is null)
        {
            state.Errors.Add($"invalid value {EtcdFlagValues.Quote(value)} for flag -{name}: {Expectation(flag)}");
            return false;
        }
        state.SetOnCommandLine.Add(flag.Name);
        Apply(flag, normalized, state);
        return true;
    }

    /// <summary>
    /// etcd's <c>SetFlagsFromEnv</c>: every flag not set on the command line may come from <c>ETCD_FLAG_NAME</c>;
    /// HttpKv also reads <c>HTTPKV_FLAG_NAME</c>, which wins over <c>ETCD_*</c>. Unknown <c>ETCD_*</c> variables get
    /// etcd's "unrecognized environment variable" warning; unknown <c>HTTPKV_*</c> ones are left alone, since
    /// other parts of HttpKv may own them.
    /// </summary>
    private static void ApplyEnvironment(IReadOnlyDictionary<string, string?> environment, ParseState state)
    {
        foreach (var (variable, value) in environment.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (variable.StartsWith("ETCD_", StringComparison.Ordinal) && !EtcdFlags.TryFindByEnvironmentVariable(variable, out _))
            {
                state.Warnings.Add($"unrecognized environment variable {variable}={value}");
            }
        }
        foreach (var flag in EtcdFlags.All)
        {
            if (state.SetOnCommandLine.Contains(flag.Name))
            {
                continue;
            }
            var (variable, value) = Lookup(environment, flag.HttpKvEnvironmentVariable) ?? Lookup(environment, flag.EtcdEnvironmentVariable) ?? default;
            if (variable is null || value is null)
            {
                continue;
            }
            if (flag.Name is "version" or "help")
            {
                state.Warnings.Add($"cannot set special environment variable {variable}={value}");
                continue;
            }
            var normalized = EtcdFlagValues.Normalize(flag, value);
            if (normalized is null)
            {
                state.Errors.Add($"invalid value {EtcdFlagValues.Quote(value)} for {variable}: {Expectation(flag)}");
                continue;
            }
            Apply(flag, normalized, state);
        }
    }

    private static (string Variable, string? Value)? Lookup(IReadOnlyDictionary<string, string?> environment, string variable) =>
        environment.TryGetValue(variable, out var value) && !string.IsNullOrEmpty(value) ? (variable, value) : null;

    private static void Apply(EtcdFlag flag, string value, ParseState state)
    {
        switch (flag.Name)
        {
            case "help":
                state.ShowHelp = value == "true";
                return;
            case "version":
                state.ShowVersion = value == "true";
                return;
        }
        if (!flag.Implemented)
        {
            state.Warnings.Add($"flag --{flag.Name} is accepted for compatibility with etcd but not implemented by HttpKv yet; ignored");
            return;
        }
        state.Settings[flag.ConfigurationKey] = value;
    }

    private static string Expectation(EtcdFlag flag) => flag.Kind switch
    {
        EtcdFlagKind.Int => "parse error (expected an integer)",
        EtcdFlagKind.UInt or EtcdFlagKind.UInt32 => "parse error (expected a non-negative integer)",
        EtcdFlagKind.Duration => "parse error (expected a Go duration such as 100ms or 5s)",
        EtcdFlagKind.UrlList => "parse error (expected comma-separated http, https, unix or unixs URLs)",
        EtcdFlagKind.Choice => $"valid values are {string.Join(", ", flag.Choices!.Select(choice => $"\"{choice}\""))}",
        EtcdFlagKind.Bool => "parse error (expected true or false)",
        _ => "parse error",
    };
}
