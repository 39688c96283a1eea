using System.Text;
using System.Text.Json.Serialization;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace HttpKv.Api.Health;

/// <summary>etcd 3.5's probes. <c>GET /health</c> answers <c>{"health":"true|false","reason":…}</c> (503 when
/// unhealthy): an active alarm (unless named in <c>?exclude=</c>), no leader (unless <c>?serializable=true</c>), or a
/// failed read (linearizable unless serializable). <c>/livez</c> (a serializable read) and <c>/readyz</c> (no CORRUPT
/// alarm, a serializable and a linearizable read) answer in Kubernetes' text: <c>ok</c>, or with <c>?verbose</c> (and
/// always on failure) one <c>[+]name ok</c> / <c>[-]name failed: reason</c> line per check; <c>/readyz/NAME</c> runs
/// one check, <c>?exclude=NAME</c> skips one. NOSPACE alone leaves a member live and ready: it still serves reads.</summary>
public static class HealthEndpoints
{
    public sealed record HealthInfo(
        [property: JsonPropertyName("health")] string Health,
        [property: JsonPropertyName("reason")] string Reason);

    private static readonly Counter Succeeded = Prometheus.Metrics.CreateCounter(
        "etcd_server_health_success", "The total number of successful health checks");
    private static readonly Counter Failed = Prometheus.Metrics.CreateCounter(
        "etcd_server_health_failures", "The total number of failed health checks");

    private delegate Task<string?> Check(HttpContext context);

    private static readonly (string Name, Check Run)[] LivezChecks = [("serializable_read", ReadAsync(serializable: true))];

    private static readonly (string Name, Check Run)[] ReadyzChecks =
    [
        ("data_corruption", context => Task.FromResult(CorruptAlarm(context))),
        ("serializable_read", ReadAsync(serializable: true)),
        ("linearizable_read", ReadAsync(serializable: false)),
    ];

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", GetHealthAsync).WithTags("Info")
            .WithSummary("etcd's health: an alarm, no leader or a failed read (linearizable unless serializable=true) makes it false, with 503.");
        MapProbe(app, "livez", LivezChecks);
        MapProbe(app, "readyz", ReadyzChecks);
        return app;
    }

    private static async Task<Results<Ok<HealthInfo>, JsonHttpResult<HealthInfo>>> GetHealthAsync(
        HttpContext context, IActiveAlarms alarms, string? serializable, string[]? exclude)
    {
        var health = await CheckHealthAsync(context, alarms, serializable == "true", exclude ?? []);
        if (health.Health == "true")
        {
            Succeeded.Inc();
            return TypedResults.Ok(health);
        }
        Failed.Inc();
        Logger(context).LogWarning("/health error: {Reason}", health.Reason);
        return TypedResults.Json(health, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<HealthInfo> CheckHealthAsync(HttpContext context, IActiveAlarms alarms, bool serializable, string[] exclude)
    {
        foreach (var alarm in alarms.Active)
        {
            if (exclude.Contains(alarm.Alarm.ToString().ToUpperInvariant(), StringComparer.Ordinal)) continue;
            return new HealthInfo("false", alarm.Alarm switch
            {
                AlarmType.Nospace => "ALARM NOSPACE",
                AlarmType.Corrupt => "ALARM CORRUPT",
                _ => "ALARM UNKNOWN",
            });
        }
        var host = context.RequestServices.GetRequiredService<MemberHost>();
        if (!serializable && (!host.Opened.IsCompletedSuccessfully || host.Opened.Result.Log.Leader == 0))
            return new HealthInfo("false", "RAFT NO LEADER");
        return await ReadAsync(serializable)(context) is { } error ? new HealthInfo("false", "RANGE ERROR:" + error) : new HealthInfo("true", "");
    }

    /// <summary>A one-key count-only read, as etcd's probe reads; null when it worked, else the error's text. etcd's
    /// request timeout bounds it (5 s plus two election timeouts).</summary>
    private static Check ReadAsync(bool serializable) => async context =>
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<MemberHost>().Options;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(5) + 2 * TimeSpan.FromMilliseconds(options.ElectionTimeout));
        try
        {
            await services.GetRequiredService<IKvService>().RangeAsync(
                new RangeRequest { Key = ByteString.CopyFromUtf8("health"), Serializable = serializable, CountOnly = true }, timeout.Token);
            return null;
        }
        catch (EtcdException exception)
        {
            return exception.Message;
        }
        catch (OperationCanceledException)
        {
            return EtcdErrors.Timeout.Message;
        }
    };

    private static string? CorruptAlarm(HttpContext context) =>
        context.RequestServices.GetRequiredService<IActiveAlarms>().Active.Any(alarm => alarm.Alarm == AlarmType.Corrupt)
            ? "alarm activated: CORRUPT" : null;

    private static void MapProbe(IEndpointRouteBuilder app, string probe, (string Name, Check Run)[] checks)
    {
        app.MapGet("/" + probe, context => RunProbeAsync(context, probe, checks)).ExcludeFromDescription();
        foreach (var check in checks)
            app.MapGet($"/{probe}/{check.Name}", context => RunProbeAsync(context, probe, [check])).ExcludeFromDescription();
    }

    private static async Task RunProbeAsync(HttpContext context, string probe, (string Name, Check Run)[] checks)
    {
        var query = context.Request.Query;
        var verbose = query.ContainsKey("verbose");
        var excluded = query["exclude"].Where(name => !string.IsNullOrEmpty(name)).ToHashSet(StringComparer.Ordinal);
        var output = new StringBuilder();
        var healthy = true;
        foreach (var (name, run) in checks)
        {
            if (excluded.Remove(name))
            {
                output.Append("[+]").Append(name).Append(" excluded: ok\n");
                continue;
            }
            if (await run(context) is { } error)
            {
                healthy = false;
                output.Append("[-]").Append(name).Append(" failed: ").Append(error).Append('\n');
            }
            else
            {
                output.Append("[+]").Append(name).Append(" ok\n");
            }
        }
        if (excluded.Count > 0)
            output.Append("warn: some health checks cannot be excluded: no matches for ")
                .AppendJoin(",", excluded.Order(StringComparer.Ordinal).Select(name => '"' + name + '"')).Append('\n');
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        if (!healthy)
        {
            Failed.Inc();
            Logger(context).LogWarning("/{Probe} failed: {Output}", probe, output.ToString().TrimEnd());
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync($"{output}{probe} check failed\n", context.RequestAborted);
            return;
        }
        Succeeded.Inc();
        await context.Response.WriteAsync(verbose ? $"{output}{probe} check passed\n" : "ok", context.RequestAborted);
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("HttpKv.Api.Health");
}
