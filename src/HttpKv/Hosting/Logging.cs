using Serilog;
using Serilog.Events;

namespace HttpKv.Hosting;

/// <summary>Serilog set up as etcd's <c>--log-level</c> asks: one line per event on standard error, as etcd logs.</summary>
public static class Logging
{
    private const string Template = "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} {Level:u4} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    public static LoggerConfiguration Configure(LoggerConfiguration configuration, string etcdLogLevel) => configuration
        .MinimumLevel.Is(ToLevel(etcdLogLevel))
        .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
        // ASP.NET Core's hosting starts an Activity (and a log scope) for every request while this category is enabled
        // at any level; it writes only "Request starting/finished" lines, which our own request log replaces
        // (HttpKv.Requests, at debug). Off, a request costs about 1 KB less garbage and one async-local write less.
        .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LevelAlias.Off)
        .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
        .Enrich.FromLogContext()
        .WriteTo.Console(outputTemplate: Template, standardErrorFromLevel: LogEventLevel.Verbose, formatProvider: System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>etcd's levels: debug, info, warn, error, panic, fatal.</summary>
    public static LogEventLevel ToLevel(string etcdLogLevel) => etcdLogLevel.ToLowerInvariant() switch
    {
        "debug" => LogEventLevel.Debug,
        "info" => LogEventLevel.Information,
        "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        "panic" or "fatal" or "dpanic" => LogEventLevel.Fatal,
        _ => throw new ArgumentException($"unknown log level \"{etcdLogLevel}\" (expected debug, info, warn, error, panic or fatal)"),
    };
}
