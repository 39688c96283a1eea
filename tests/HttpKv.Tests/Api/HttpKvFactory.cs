using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Tests.Api;

/// <summary>An in-process member (TestServer) with its own temporary data directory, deleted on dispose.</summary>
public sealed class HttpKvFactory(IReadOnlyDictionary<string, string>? settings = null) : WebApplicationFactory<Program>
{
    public string DataDir { get; } = Directory.CreateTempSubdirectory("httpkv-test-").FullName;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("HttpKv:DataDir", DataDir);
        builder.UseSetting("HttpKv:LogLevel", "warn");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        if (time is not null) builder.ConfigureServices(services => services.AddSingleton(time));
    }

    private TimeProvider? time;

    /// <summary>Gives the member this clock (e.g. a FakeTimeProvider) instead of the system's.</summary>
    public HttpKvFactory WithTime(TimeProvider clock)
    {
        time = clock;
        return this;
    }

    public GrpcChannel CreateGrpcChannel() =>
        GrpcChannel.ForAddress(Server.BaseAddress, new GrpcChannelOptions { HttpHandler = Server.CreateHandler() });

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(DataDir, recursive: true);
    }
}

/// <summary>A test class with a member of its own (xUnit makes one instance per test), with an HTTP client on it.</summary>
public abstract class MemberTest : IAsyncLifetime
{
    protected HttpKvFactory Factory { get; } = new();
    protected HttpClient Client { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Client = Factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
