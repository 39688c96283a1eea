using System.Collections;
using HttpKv.Api;
using HttpKv.Configuration;
using HttpKv.Connections;
using HttpKv.Hosting;
using HttpKv.Server;
using HttpKv.Server.Auth;
using HttpKv.Server.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Extensions.Logging;

// `httpkv snapshot …`: an offline tool over a snapshot file, not a member; dispatched before etcd's flags are parsed.
if (args.Length > 0 && args[0] == "snapshot") return await HttpKv.Server.Maintenance.SnapshotCommand.RunAsync(args[1..], Console.Out, Console.Error);

var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(entry => (string)entry.Key, entry => (string?)entry.Value);
var (hostArguments, etcdArguments) = HostArguments.Split(args);
var commandLine = EtcdCommandLine.Parse(etcdArguments, environment);
if (commandLine.Errors.Count > 0)
{
    foreach (var error in commandLine.Errors) await Console.Error.WriteLineAsync(error);
    return 2;
}
if (commandLine.ShowVersion || commandLine.ShowHelp)
{
    Console.WriteLine(commandLine.ShowVersion ? CommandLineText.Version() : CommandLineText.Usage());
    return 0;
}

// No reload of appsettings.json on change: its watcher covers the content root recursively, and the data directory
// usually lives there (./default.httpkv), so every WAL and backend write woke it (5% of a core under load).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = [.. hostArguments, "--hostBuilder:reloadConfigOnChange=false"],
    ContentRootPath = Directory.GetCurrentDirectory(),
});
builder.Configuration.AddInMemoryCollection(commandLine.Settings);
var memberOptions = builder.Configuration.GetSection(MemberOptions.Section).Get<MemberOptions>() ?? new MemberOptions();
// Certificates, TLS flags and the auth token's keys are checked before anything starts, so a bad file stops the member with one line, as
// etcd does. (Hosts that add configuration later, such as WebApplicationFactory's, get the plaintext default.)
using (var startLogger = Logging.Configure(new LoggerConfiguration(), memberOptions.LogLevel).CreateLogger())
{
    try
    {
        var security = TransportSecurity.Load(memberOptions, new SerilogLoggerFactory(startLogger).CreateLogger("HttpKv.Server.Transport"));
        builder.Services.AddSingleton(security);
        // The --auth-token value and its key files, read here, once, so that one the member cannot use stops it with one line;
        // the member makes its token provider from them on its clock.
        builder.Services.AddSingleton(TokenProviders.Parse(memberOptions.AuthToken, TimeSpan.FromSeconds(memberOptions.AuthTokenTtl)));
    }
    catch (Exception exception) when (exception is TransportSecurityException or AuthTokenException)
    {
        startLogger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "HttpKv").Fatal("failed to start: {Error:l}", exception.Message);
        return 1;
    }
}
builder.Services.AddHttpKvMember();
builder.Services.AddSerilog((services, configuration) =>
    Logging.Configure(configuration, services.GetRequiredService<IOptions<MemberOptions>>().Value.LogLevel));
builder.Services.AddSingleton<IConnectionListenerFactory, DemuxListenerFactory>();
builder.Services.AddHttpKvApi();
builder.Services.AddHostedService(services => new StartupMessages(services, commandLine.Warnings));
builder.WebHost.ConfigureKestrel((context, kestrel) => KestrelSetup.Configure(kestrel,
    kestrel.ApplicationServices.GetRequiredService<MemberHost>().Options, kestrel.ApplicationServices.GetRequiredService<TransportSecurity>()));

var app = builder.Build();
app.MapHttpKvApi();
try
{
    await app.StartAsync();
}
catch (Exception exception) when (exception is not OutOfMemoryException)
{
    // Damaged data (a corrupt WAL record, a backend entry failing its checksum, a truncated file) and any other
    // reason the member cannot open: one clear line naming what is wrong, and a non-zero exit.
    var reasons = exception is AggregateException aggregate ? aggregate.InnerExceptions.Select(inner => inner.Message) : [exception.Message];
    app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("HttpKv").LogCritical("failed to start: {Error:l}", string.Join("; ", reasons));
    await app.DisposeAsync();
    return 1;
}
await app.WaitForShutdownAsync();
await app.DisposeAsync();
return 0;

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
