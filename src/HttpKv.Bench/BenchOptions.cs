using System.Globalization;

namespace HttpKv.Bench;

/// <summary>A flag that is missing its value, unknown, or out of range: the tool exits with code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Everything the command line says. Parsed once; the workloads only read it.</summary>
public sealed record BenchOptions
{
    public static readonly string[] Workloads = ["put", "range", "txn-put", "txn-mixed", "watch", "lease-keepalive", "fsync"];

    public string Workload { get; init; } = "";
    public IReadOnlyList<string> Endpoints { get; init; } = ["127.0.0.1:2379"];
    public int Conns { get; init; } = 1;
    public int Clients { get; init; } = 1;
    public long Total { get; init; } = 10000;
    /// <summary>When set, the run lasts this long and <see cref="Total"/> is ignored.</summary>
    public TimeSpan? Duration { get; init; }
    public int KeySize { get; init; } = 8;
    public int? ValSizeGiven { get; init; }
    public int ValSize => ValSizeGiven ?? (Workload == "fsync" ? 4096 : 8);
    public int KeySpaceSize { get; init; } = 1;
    public bool SequentialKeys { get; init; }
    /// <summary>Requests per second for the whole run (open loop); 0 = closed loop.</summary>
    public double Rate { get; init; }
    public string Transport { get; init; } = "grpc";
    public bool Serializable { get; init; }
    public bool Prefill { get; init; }
    public double ReadsPerWrite { get; init; } = 1;
    public int Watchers { get; init; } = 1000;
    public int WatchStreams { get; init; } = 10;
    public long WatchPuts { get; init; } = 10000;
    public string? CaCert { get; init; }
    public string? Cert { get; init; }
    public string? Key { get; init; }
    public string? User { get; init; }
    public string? JsonPath { get; init; }
    public bool Quiet { get; init; }
    public string Dir { get; init; } = ".";

    public const string Usage = """
        usage: httpkv-bench <workload> [flags]
          workloads: put | range | txn-put | txn-mixed | watch | lease-keepalive | fsync
          --endpoints a,b          URLs (http://127.0.0.1:2379 by default); conns are spread over them round robin
          --conns N                gRPC channels / HTTP connection pools (1)
          --clients N              concurrent requesters, spread over the conns (1)
          --total N | --duration D operations (10000), or a time such as 10s, 2m, 500ms (wins when given)
          --key-size N --val-size N --key-space-size N --sequential-keys
          --rate R                 open loop: R requests/s in all, latency from the scheduled time (0 = closed loop)
          --transport grpc|http    http = the /v3/kv/* JSON routes (put, range only)
          --consistency l|s        range reads: linearizable (l, default) or serializable (s)
          --prefill                range: put each key of the key space once first (not measured)
          --rw-ratio R             txn-mixed: reads per write (1)
          --watchers W --watch-streams S --puts P   watch: 1000 watchers over 10 streams, 10000 puts
          --dir D                  fsync: where the test file goes (.)
          --cacert F --cert F --key F   TLS (https endpoints); the client certificate is optional
          --user name:password     authenticate first; the token goes with every request
          --json FILE              the result as JSON (- = stdout)   --quiet   no progress line
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0) throw new UsageException("no workload given");
        var workload = args[0];
        if (!Workloads.Contains(workload)) throw new UsageException($"unknown workload '{workload}'");
        var options = new BenchOptions { Workload = workload };
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{arg}'");
            string name = arg, value = "";
            var equals = arg.IndexOf('=');
            var hasValue = equals > 0;
            if (hasValue) (name, value) = (arg[..equals], arg[(equals + 1)..]);
            string Value()
            {
                if (hasValue) return value;
                if (i + 1 >= args.Count) throw new UsageException($"{name} needs a value");
                return args[++i];
            }
            bool Flag() => !hasValue || ParseBool(name, value);
            options = name switch
            {
                "--endpoints" => options with { Endpoints = ParseEndpoints(Value()) },
                "--conns" => options with { Conns = (int)Positive(name, Value()) },
                "--clients" => options with { Clients = (int)Positive(name, Value()) },
                "--total" => options with { Total = Positive(name, Value()) },
                "--duration" => options with { Duration = ParseDuration(Value()) },
                "--key-size" => options with { KeySize = (int)Positive(name, Value()) },
                "--val-size" => options with { ValSizeGiven = (int)NonNegative(name, Value()) },
                "--key-space-size" => options with { KeySpaceSize = (int)Positive(name, Value()) },
                "--sequential-keys" => options with { SequentialKeys = Flag() },
                "--rate" => options with { Rate = NonNegativeDouble(name, Value()) },
                "--transport" => options with { Transport = OneOf(name, Value(), "grpc", "http") },
                "--consistency" => options with { Serializable = OneOf(name, Value(), "l", "s") == "s" },
                "--prefill" => options with { Prefill = Flag() },
                "--rw-ratio" => options with { ReadsPerWrite = NonNegativeDouble(name, Value()) },
                "--watchers" => options with { Watchers = (int)Positive(name, Value()) },
                "--watch-streams" => options with { WatchStreams = (int)Positive(name, Value()) },
                "--puts" => options with { WatchPuts = Positive(name, Value()) },
                "--cacert" => options with { CaCert = Value() },
                "--cert" => options with { Cert = Value() },
                "--key" => options with { Key = Value() },
                "--user" => options with { User = Value() },
                "--json" => options with { JsonPath = Value() },
                "--quiet" => options with { Quiet = Flag() },
                "--dir" => options with { Dir = Value() },
                _ => throw new UsageException($"unknown flag '{name}'"),
            };
        }
        return options.Validated();
    }

    private BenchOptions Validated()
    {
        if (Transport == "http" && Workload is not ("put" or "range"))
            throw new UsageException("--transport http supports only the put and range workloads");
        if (User is not null && !User.Contains(':')) throw new UsageException("--user takes name:password");
        if ((Cert is null) != (Key is null)) throw new UsageException("--cert and --key go together");
        var digits = (KeySpaceSize - 1).ToString(CultureInfo.InvariantCulture).Length;
        if (Workload is not ("watch" or "lease-keepalive" or "fsync") && digits > KeySize)
            throw new UsageException($"--key-size {KeySize} is too small for --key-space-size {KeySpaceSize} ({digits} digits)");
        if (Workload == "watch" && WatchStreams > Watchers) throw new UsageException("--watch-streams is larger than --watchers");
        // An endpoint given without a scheme is https when TLS flags are given, as with etcdctl.
        var scheme = CaCert is not null || Cert is not null ? "https://" : "http://";
        var endpoints = Endpoints.Select(e => e.Contains("://", StringComparison.Ordinal) ? e : scheme + e).ToList();
        foreach (var endpoint in endpoints)
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new UsageException($"--endpoints: '{endpoint}' is not an http(s) URL");
        return this with { Endpoints = endpoints };
    }

    private static List<string> ParseEndpoints(string value)
    {
        var endpoints = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        return endpoints.Count > 0 ? endpoints : throw new UsageException("--endpoints is empty");
    }

    public static TimeSpan ParseDuration(string value)
    {
        (string number, double scale) = value switch
        {
            _ when value.EndsWith("ms", StringComparison.Ordinal) => (value[..^2], 0.001),
            _ when value.EndsWith('s') => (value[..^1], 1.0),
            _ when value.EndsWith('m') => (value[..^1], 60.0),
            _ when value.EndsWith('h') => (value[..^1], 3600.0),
            _ => (value, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
            throw new UsageException($"--duration: '{value}' is not a duration such as 10s, 2m or 500ms");
        return TimeSpan.FromSeconds(amount * scale);
    }

    private static long Positive(string name, string value) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 && n <= int.MaxValue * 1000L
            ? n : throw new UsageException($"{name}: '{value}' is not a positive integer");

    private static long NonNegative(string name, string value) =>
        long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 && n <= 64 * 1024 * 1024
            ? n : throw new UsageException($"{name}: '{value}' is not an integer between 0 and 64 MiB");

    private static double NonNegativeDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && double.IsFinite(n)
            ? n : throw new UsageException($"{name}: '{value}' is not a non-negative number");

    private static string OneOf(string name, string value, params string[] allowed) =>
        allowed.Contains(value) ? value : throw new UsageException($"{name}: '{value}' is not one of {string.Join(", ", allowed)}");

    private static bool ParseBool(string name, string value) => value switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new UsageException($"{name}: '{value}' is not true or false"),
    };
}
