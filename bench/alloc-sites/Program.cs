// alloc-sites: where a running .NET process allocates, from the runtime's own allocation samples (EventPipe's
// GCAllocationTick: one sample per ~100 KB allocated, with the type and the managed stack).
//
//   alloc-sites record PID SECONDS FILE.nettrace     sample the process for SECONDS
//   alloc-sites report FILE.nettrace [TOP]           the TOP types, and the TOP (type, first HttpKv frame) pairs
//
// Shares are of the sampled bytes; multiply by the bytes allocated per operation (bench/server-costs.sh) for bytes
// per operation. A pair's "first HttpKv frame" is the innermost HttpKv method on the stack: "(framework only)" when the
// allocation is Kestrel's, Grpc.AspNetCore's or the runtime's with no HttpKv code below it.
using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

if (args is ["record", var pid, var seconds, var file]) Record(int.Parse(pid, CultureInfo.InvariantCulture), int.Parse(seconds, CultureInfo.InvariantCulture), file);
else if (args is ["report", var trace, ..]) Report(trace, args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30);
else
{
    Console.Error.WriteLine("usage: alloc-sites record PID SECONDS FILE.nettrace | alloc-sites report FILE.nettrace [TOP]");
    return 2;
}
return 0;

static void Record(int pid, int seconds, string file)
{
    var keywords = ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.Stack | ClrTraceEventParser.Keywords.Loader
        | ClrTraceEventParser.Keywords.Jit | ClrTraceEventParser.Keywords.JittedMethodILToNativeMap;
    var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, (long)keywords) };
    using var session = new DiagnosticsClient(pid).StartEventPipeSession(providers, requestRundown: true, circularBufferMB: 512);
    using var output = File.Create(file);
    var copy = session.EventStream.CopyToAsync(output);
    Thread.Sleep(TimeSpan.FromSeconds(seconds));
    session.Stop();
    copy.Wait();
}

static void Report(string file, int top)
{
    using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(file));
    var byType = new Dictionary<string, long>();
    var bySite = new Dictionary<string, long>();
    long total = 0;
    foreach (var data in log.Events)
    {
        if (data is not GCAllocationTickTraceData tick) continue;
        total += tick.AllocationAmount64;
        byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + tick.AllocationAmount64;
        var site = $"{tick.TypeName}  <=  {FirstHttpKvFrame(data.CallStack()) ?? "(framework only)"}";
        bySite[site] = bySite.GetValueOrDefault(site) + tick.AllocationAmount64;
    }
    Console.WriteLine($"{total:N0} bytes sampled");
    Print("by type", byType);
    Print("by type and first HttpKv frame", bySite);

    void Print(string title, Dictionary<string, long> shares)
    {
        Console.WriteLine($"--- {title}");
        foreach (var (name, bytes) in shares.OrderByDescending(pair => pair.Value).Take(top))
            Console.WriteLine($"{100.0 * bytes / Math.Max(total, 1),5:F1}%  {name}");
    }
}

static string? FirstHttpKvFrame(TraceCallStack? stack)
{
    for (var frame = stack; frame is not null; frame = frame.Caller)
    {
        var method = frame.CodeAddress.FullMethodName;
        if (method is not null && method.StartsWith("HttpKv.", StringComparison.Ordinal)) return method.Length > 140 ? method[..140] : method;
    }
    return null;
}
