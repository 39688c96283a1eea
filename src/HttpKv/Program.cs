using System.Collections;
using HttpKv.Api;
using HttpKv.Configuration;
using HttpKv.Hosting;
using HttpKv.Server;
using Microsoft.AspNetCore.Connections;
using Serilog;
using Serilog.Extensions.Logging;

var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(entry => (string)entry.Key, entry => (string?)entry.Value);
var commandLine = EtcdCommandLine.Parse(args, environment);
if (commandLine.Errors.Count > 0)
{
    foreach (var error in commandLine.Errors) await Console.Error.WriteLineAsync(error);
    return 2;
}
if (commandLine.ShowVersion)
{
    Console.WriteLine($"httpkv Version: {typeof(Member).Assembly.GetName().Version}\netcd API Version: {HttpKv.Api.Gateway.InfoEndpoints.EtcdServerVersion}");
    return 0;
}
if (commandLine.ShowHelp)
{
    Console.WriteLine(EtcdFlags.Usage());
    return 0;
}

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory() });
builder.Configuration.AddInMemoryCollection(commandLine.Settings);
var options = builder.Configuration.GetSection(MemberOptions.Section).Get<MemberOptions>() ?? new MemberOptions();

var serilog = Logging.Create(options.LogLevel);
builder.Services.AddSerilog(serilog, dispose: true);
using var startupLoggers = new SerilogLoggerFactory(serilog);
var startupLog = startupLoggers.CreateLogger("HttpKv");
foreach (var warning in commandLine.Warnings) startupLog.LogWarning("{Warning}", warning);

var identity = MemberIdentities.FromOptions(options);
var member = await Member.StartAsync(options, identity, startupLoggers);

builder.Services.AddSingleton(options);
builder.Services.AddSingleton(member);
builder.Services.AddSingleton<IKvService, KvServer>();
builder.Services.AddSingleton<IConnectionListenerFactory, DemuxListenerFactory>();
builder.Services.AddHttpKvApi(options.MaxRequestBytes);
builder.WebHost.ConfigureKestrel(kestrel => KestrelSetup.Configure(kestrel, options));

var app = builder.Build();
app.MapHttpKvApi();
app.Lifetime.ApplicationStarted.Register(() => StartupMessages.Log(startupLog, identity));
app.Lifetime.ApplicationStopped.Register(() => member.DisposeAsync().AsTask().GetAwaiter().GetResult());
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
