using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace HttpKv.Api.Metrics;

/// <summary><c>GET /metrics</c> in Prometheus' text format (prometheus-net writes it): the process-wide registry
/// (event counters and histograms, gRPC and HTTP metrics, process metrics) followed by this member's state gauges.
/// Also the guard of <c>--listen-metrics-urls</c>: as etcd's, those listeners serve only /metrics and the probes.</summary>
public static class MetricsEndpoints
{
    private const string TextFormat = "text/plain; version=0.0.4; charset=utf-8";
    private static readonly string[] MetricsListenerPaths = ["/metrics", "/health", "/livez", "/readyz"];
    private static int defaultsConfigured;

    /// <summary>Keeps prometheus-net's process metrics and drops its bridges of .NET's EventCounters and Meters: those
    /// would listen to Kestrel's and the runtime's per-request instruments, a cost on every request for series no etcd
    /// dashboard reads. Must run before the first scrape.</summary>
    public static void ConfigureDefaults()
    {
        if (Interlocked.Exchange(ref defaultsConfigured, 1) == 1) return;
        Prometheus.Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
        {
            SuppressProcessMetrics = false,
            SuppressEventCounters = true,
            SuppressMeters = true,
            SuppressDebugMetrics = true,
        });
        // The event metrics register when their class is first used; a scrape before any watcher or request must
        // still list them (at zero), as etcd's does.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(Server.Metrics.ServerMetrics).TypeHandle);
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(Server.Metrics.WatchMetrics).TypeHandle);
    }

    public static IEndpointRouteBuilder MapMetricsEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", async (HttpContext context, MemberMetrics member) =>
        {
            context.Response.ContentType = TextFormat;
            await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
            await member.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        }).ExcludeFromDescription();
        return app;
    }

    /// <summary>Answers 404 on the metrics listeners for anything but /metrics and the probes.</summary>
    public static void UseMetricsListenerGuard(WebApplication app)
    {
        var ports = MemberOptions.SplitUrls(app.Services.GetRequiredService<MemberHost>().Options.ListenMetricsUrls)
            .Select(url => new Uri(url).Port).ToHashSet();
        if (ports.Count == 0) return;
        app.Use((context, next) =>
        {
            if (!ports.Contains(context.Connection.LocalPort) || IsMetricsListenerPath(context.Request.Path)) return next(context);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
    }

    /// <summary>The path or one under it (/readyz/linearizable_read).</summary>
    private static bool IsMetricsListenerPath(PathString path) =>
        MetricsListenerPaths.Any(allowed => path.StartsWithSegments(allowed, StringComparison.Ordinal));
}
