using HttpKv.Bench;

// httpkv-bench <workload> [flags]: exit 0 when the run happened (even with errors), 1 when it could not start
// (no server, authentication refused), 2 for bad flags.
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
try
{
    result = await RunAsync(options);
}
catch (Exception error) when (error is Grpc.Core.RpcException or BenchError or HttpRequestException or IOException
                                   or UnauthorizedAccessException or TimeoutException)
{
    // The run could not start (no server, authentication refused, watchers not created, no such --dir): exit 1.
    Console.Error.WriteLine($"httpkv-bench: {options.Workload}: {RunResult.ErrorText(error)}");
    return 1;
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

static async Task<RunResult> RunAsync(BenchOptions options)
{
    if (options.Workload == "fsync") return await FsyncWorkload.RunAsync(options);
    using var connections = await Connections.OpenAsync(options);
    switch (options.Workload)
    {
        case "watch":
            return await new WatchWorkload(options, connections).RunAsync();
        case "lease-keepalive":
            return await new LeaseWorkload(options, connections).RunAsync();
        default:
            var kv = new KvWorkloads(options, connections);
            if (options.Prefill) await kv.PrefillAsync();
            return await Runner.RunAsync(options, kv.Operation);
    }
}
