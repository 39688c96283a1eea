using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HttpKv.Server.Maintenance;

/// <summary><c>httpkv snapshot status|restore</c>: etcdctl's (3.4) offline snapshot commands for HttpKv's snapshot files
/// (save is etcdctl's own: <c>etcdctl snapshot save FILE</c> against a member). A command-line tool, so it writes to the
/// console: results on stdout, progress and errors on stderr; exit 0 on success, 1 on a refused file, 2 on bad usage.</summary>
public static class SnapshotCommand
{
    public const string Usage = """
        Usage:
          httpkv snapshot status FILE [-w simple|table|json|fields]
          httpkv snapshot restore FILE [--data-dir DIR] [--wal-dir DIR] [--name NAME] [--initial-cluster NAME=URL,...]
                                       [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URL,...] [--skip-hash-check]

        status   checks the file (its SHA-256 and every entry) and prints its hash, revision, total keys and size.
        restore  makes the data dir of one member of a new cluster from the file (run it for each member, with the same
                 --initial-cluster and --initial-cluster-token); the data dir must be empty or missing.
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (args.Count == 0 || args[0] is "-h" or "--help" or "help")
        {
            await (args.Count == 0 ? errors : output).WriteLineAsync(Usage);
            return args.Count == 0 ? 2 : 0;
        }
        if (args[0] is not ("status" or "restore"))
        {
            var hint = args[0] == "save" ? "saving is etcdctl's: etcdctl --endpoints=HOST:PORT snapshot save FILE" : $"unknown snapshot command \"{args[0]}\"";
            await errors.WriteLineAsync($"Error: {hint}\n\n{Usage}");
            return 2;
        }
        ParsedFlags flags;
        try
        {
            flags = args[0] == "restore"
                ? ParsedFlags.Parse(args.Skip(1), RestoreFlags, ["--skip-hash-check"])
                : ParsedFlags.Parse(args.Skip(1), StatusFlags, []);
        }
        catch (ArgumentException exception)
        {
            await errors.WriteLineAsync($"Error: {exception.Message}\n\n{Usage}");
            return 2;
        }
        if (flags.Positional.Count != 1)
        {
            await errors.WriteLineAsync($"Error: snapshot {args[0]} expects one snapshot file path, got {flags.Positional.Count}\n\n{Usage}");
            return 2;
        }
        var file = flags.Positional[0];
        try
        {
            return args[0] == "status" ? await StatusAsync(file, flags, output, errors) : await RestoreAsync(file, flags, output, errors);
        }
        catch (SnapshotFileException exception)
        {
            await errors.WriteLineAsync($"Error: {exception.Message}");
            return 1;
        }
        catch (ArgumentException exception)
        {
            await errors.WriteLineAsync($"Error: {exception.Message}");
            return 2;
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            await errors.WriteLineAsync($"Error: {exception.Message}");
            return 1;
        }
    }

    private static async Task<int> StatusAsync(string file, ParsedFlags flags, TextWriter output, TextWriter errors)
    {
        var format = flags.Get("--write-out", flags.Get("-w", "simple"));
        if (format is not ("simple" or "table" or "json" or "fields"))
        {
            await errors.WriteLineAsync($"Error: unknown output format \"{format}\" (simple, table, json or fields)");
            return 2;
        }
        var status = await SnapshotFile.StatusAsync(file, Progress(errors, "checking"));
        await output.WriteAsync(Format(status, format));
        return 0;
    }

    private static async Task<int> RestoreAsync(string file, ParsedFlags flags, TextWriter output, TextWriter errors)
    {
        var options = new SnapshotRestoreOptions
        {
            SnapshotPath = file,
            Name = flags.Get("--name", "default"),
            DataDir = flags.Get("--data-dir", ""),
            WalDir = flags.Get("--wal-dir", ""),
            InitialCluster = flags.Get("--initial-cluster", ""),
            InitialClusterToken = flags.Get("--initial-cluster-token", "etcd-cluster"),
            InitialAdvertisePeerUrls = flags.Get("--initial-advertise-peer-urls", "http://localhost:2380"),
            SkipHashCheck = flags.Has("--skip-hash-check"),
        };
        // etcdctl's default --initial-cluster is this member alone at its advertised peer URLs.
        if (options.InitialCluster.Length == 0)
            options = options with { InitialCluster = string.Join(',', MemberOptions.SplitUrls(options.InitialAdvertisePeerUrls).Select(url => $"{options.Name}={url}")) };
        var dataDir = Path.GetFullPath(string.IsNullOrEmpty(options.DataDir) ? options.Name + ".httpkv" : options.DataDir);
        await errors.WriteLineAsync($"restoring snapshot {file} into {dataDir}");
        var result = await SnapshotRestore.RestoreAsync(options, Progress(errors, "restoring"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"restored snapshot {file} into {result.DataDir}: member {options.Name} ({MemberIds.ToHex(result.MemberId)}) of new cluster " +
            $"{MemberIds.ToHex(result.ClusterId)} with {result.Members} members, revision {result.Revision}, {HumanBytes(result.DatabaseBytes)}"));
        return 0;
    }

    private static readonly string[] StatusFlags = ["-w", "--write-out"];
    private static readonly string[] RestoreFlags =
        ["--data-dir", "--wal-dir", "--name", "--initial-cluster", "--initial-cluster-token", "--initial-advertise-peer-urls"];

    private static CopyProgress Progress(TextWriter errors, string verb) =>
        (percent, done, total) => errors.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{verb}: {percent}% ({HumanBytes(done)} of {HumanBytes(total)})"));

    /// <summary>etcdctl's four printers for a snapshot status.</summary>
    public static string Format(SnapshotStatus status, string format)
    {
        ArgumentNullException.ThrowIfNull(status);
        var hash = status.Hash.ToString("x", CultureInfo.InvariantCulture);
        return format switch
        {
            "json" => JsonSerializer.Serialize(new { hash = status.Hash, revision = status.Revision, totalKey = status.TotalKey, totalSize = status.TotalSize }) + "\n",
            "fields" => string.Create(CultureInfo.InvariantCulture,
                $"\"Hash\" : {status.Hash}\n\"Revision\" : {status.Revision}\n\"Keys\" : {status.TotalKey}\n\"Size\" : {status.TotalSize}\n"),
            "table" => Table(["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"],
                [hash, status.Revision.ToString(CultureInfo.InvariantCulture), status.TotalKey.ToString(CultureInfo.InvariantCulture), HumanBytes(status.TotalSize)]),
            _ => string.Create(CultureInfo.InvariantCulture, $"{hash}, {status.Revision}, {status.TotalKey}, {HumanBytes(status.TotalSize)}\n"),
        };
    }

    /// <summary>etcdctl's table (olekukonko/tablewriter's defaults): centered headers; numbers right-aligned, text left.</summary>
    public static string Table(IReadOnlyList<string> headers, IReadOnlyList<string> row)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(row);
        var widths = headers.Select((header, column) => Math.Max(header.Length, row[column].Length)).ToArray();
        var border = "+" + string.Join("+", widths.Select(width => new string('-', width + 2))) + "+\n";
        var text = new StringBuilder(border);
        text.Append('|');
        for (var column = 0; column < headers.Count; column++)
        {
            var gap = widths[column] - headers[column].Length;
            text.Append(' ').Append(new string(' ', gap / 2)).Append(headers[column]).Append(new string(' ', gap - gap / 2)).Append(" |");
        }
        text.Append('\n').Append(border).Append('|');
        for (var column = 0; column < row.Count; column++)
        {
            var cell = row[column];
            var numeric = long.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
            text.Append(' ').Append(numeric ? cell.PadLeft(widths[column]) : cell.PadRight(widths[column])).Append(" |");
        }
        return text.Append('\n').Append(border).ToString();
    }

    /// <summary>go-humanize's Bytes (SI units, as etcdctl prints sizes): "25 kB", "2.1 MB", "512 B".</summary>
    public static string HumanBytes(long bytes)
    {
        if (bytes < 10) return string.Create(CultureInfo.InvariantCulture, $"{bytes} B");
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
        var exponent = (int)Math.Floor(Math.Log(bytes) / Math.Log(1000));
        var value = Math.Floor(bytes / Math.Pow(1000, exponent) * 10 + 0.5) / 10;
        var format = value < 10 ? "{0:F1} {1}" : "{0:F0} {1}";
        return string.Format(CultureInfo.InvariantCulture, format, value, units[exponent]);
    }

    /// <summary>Flags as etcdctl takes them: <c>--flag value</c> or <c>--flag=value</c>, switches alone or <c>=true/false</c>.</summary>
    private sealed class ParsedFlags
    {
        private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
        public List<string> Positional { get; } = [];

        public static ParsedFlags Parse(IEnumerable<string> arguments, IReadOnlyCollection<string> valued, IReadOnlyCollection<string> switches)
        {
            var parsed = new ParsedFlags();
            using var items = arguments.GetEnumerator();
            while (items.MoveNext())
            {
                var argument = items.Current;
                if (!argument.StartsWith('-') || argument == "-")
                {
                    parsed.Positional.Add(argument);
                    continue;
                }
                var equals = argument.IndexOf('=', StringComparison.Ordinal);
                var name = equals > 0 ? argument[..equals] : argument;
                if (switches.Contains(name))
                {
                    var value = equals > 0 ? argument[(equals + 1)..] : "true";
                    if (value is not ("true" or "false")) throw new ArgumentException($"invalid value \"{value}\" for {name}: true or false");
                    parsed.values[name] = value;
                }
                else if (valued.Contains(name))
                {
                    if (equals > 0) parsed.values[name] = argument[(equals + 1)..];
                    else if (items.MoveNext()) parsed.values[name] = items.Current;
                    else throw new ArgumentException($"flag needs an argument: {name}");
                }
                else
                {
                    throw new ArgumentException($"unknown flag: {name}");
                }
            }
            return parsed;
        }

        public string Get(string name, string fallback) => values.TryGetValue(name, out var value) ? value : fallback;

        public bool Has(string name) => values.TryGetValue(name, out var value) && value == "true";
    }
}
