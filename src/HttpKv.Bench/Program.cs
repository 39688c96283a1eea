using HttpKv.Bench;

// httpkv-bench <workload> [flags]: exit 0 when the run happened (even with errors), 2 for bad flags.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (UsageException error)
{
    Console.Error.WriteLine($"httpkv-bench: {error.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

RunResult result;
if (options.Workload == "fsync")
{
    result = await FsyncWorkload.RunAsync(options);
}
else
{
    using var connections = await Connections.OpenAsync(options);
    switch (options.Workload)
    {
        case "watch":
            result = await new WatchWorkload(options, connections).RunAsync();
            break;
        case "lease-keepalive":
            result = await new LeaseWorkload(options, connections).RunAsync();
            break;
        default:
            var kv = new KvWorkloads(options, connections);
            if (options.Prefill) await kv.PrefillAsync();
            result = await Runner.RunAsync(options, kv.Operation);
            break;
    }
}

// With --json - the JSON alone is on stdout, so a script can read it; the summary then goes to stderr.
(options.JsonPath == "-" ? Console.Error : Console.Out).Write(Report.Summary(options, result));
if (options.JsonPath is { } path)
{
    var json = Report.Json(options, result);
    if (path == "-")
    {
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(json);
    }
    else
    {
        await File.WriteAllBytesAsync(path, json);
    }
}
return 0;
