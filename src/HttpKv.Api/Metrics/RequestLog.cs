using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HttpKv.Api.Metrics;

/// <summary>Per-request metrics (<see cref="RequestMetrics"/>) and one log line per request (Debug) with its
/// correlation id, route template or gRPC method, status and duration; a request slower than --warning-apply-duration is a Warning with the same details. Streams (watch,
/// keep-alive, observe, snapshot) live as long as their client wants and are never "slow". The correlation id is the
/// client's <c>X-Request-Id</c> when it sends a sane one, else the connection-and-request id Kestrel already has (made
/// only when a line is written); it is echoed in the response (on gRPC calls only the client's own) and is the
/// request's TraceIdentifier, so every log line about it can carry it.
/// Nothing is formatted unless a line is written (source-generated log methods check the level first).</summary>
internal static partial class RequestLog
{
    public const string HeaderName = "X-Request-Id";
    private const int MaxRequestIdLength = 128;

    public static void Use(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("HttpKv.Requests");
        var options = app.Services.GetRequiredService<MemberHost>().Options;
        var slowAfter = options.EffectiveWarningApplyDuration;
        var metrics = new RequestMetrics(extensive: options.Metrics == "extensive");
        app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            var requestId = IncomingRequestId(context.Request.Headers[HeaderName]);
            if (requestId is not null)
            {
                context.TraceIdentifier = requestId;
                context.Response.Headers[HeaderName] = requestId;
            }
            else if (RequestMetrics.GrpcMethod(context) is null)
            {
                // gRPC calls echo only a client's own id: one made here would differ on every call, a new entry in
                // the connection's HPACK table each time, for a header etcd's clients never read.
                context.Response.Headers[HeaderName] = context.TraceIdentifier;
            }
            metrics.Started(context);
            var failed = false;
            try
            {
                await next(context);
            }
            catch
            {
                failed = true;
                throw;
            }
            finally
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                metrics.Finished(context, HttpStatus(context, failed), elapsed);
                if (elapsed >= slowAfter && !IsStream(context)) LogSlow(context, logger, context.TraceIdentifier, elapsed, slowAfter, failed);
                else if (logger.IsEnabled(LogLevel.Debug)) LogDone(context, logger, context.TraceIdentifier, elapsed, failed);
            }
        });
    }

    private static string? IncomingRequestId(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxRequestIdLength) return null;
        foreach (var character in value)
        {
            if (character is < '!' or > '~') return null; // visible ASCII only: it goes into logs and a header
        }
        return value;
    }

    private static void LogSlow(HttpContext context, ILogger logger, string requestId, TimeSpan elapsed, TimeSpan slowAfter, bool failed) =>
        SlowRequest(logger, requestId, context.Request.Method, Route(context), Status(context, failed), elapsed.TotalMilliseconds,
            slowAfter.TotalMilliseconds, Remote(context));

    private static void LogDone(HttpContext context, ILogger logger, string requestId, TimeSpan elapsed, bool failed) =>
        Request(logger, requestId, context.Request.Method, Route(context), Status(context, failed), elapsed.TotalMilliseconds, Remote(context));

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "slow request {RequestId}: {Method} {Route} took {DurationMs:0.0} ms (over {ThresholdMs} ms), status {Status}, from {Remote}")]
    private static partial void SlowRequest(ILogger logger, string requestId, string method, string route, string status,
        double durationMs, double thresholdMs, string remote);

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {RequestId}: {Method} {Route} status {Status} in {DurationMs:0.000} ms from {Remote}")]
    private static partial void Request(ILogger logger, string requestId, string method, string route, string status, double durationMs, string remote);

    /// <summary>The route template (bounded: one per endpoint, the gRPC method's path for gRPC), or the path when no
    /// endpoint matched.</summary>
    private static string Route(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint endpoint ? endpoint.RoutePattern.RawText ?? context.Request.Path.Value ?? "" : context.Request.Path.Value ?? "";

    private static int HttpStatus(HttpContext context, bool failed) =>
        failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;

    /// <summary>The HTTP status; for gRPC the call's own status by its Go name, as grpc_server_handled_total's grpc_code.</summary>
    private static string Status(HttpContext context, bool failed) => RequestMetrics.GrpcMethod(context) is null
        ? HttpStatus(context, failed).ToString(CultureInfo.InvariantCulture)
        : RequestMetrics.CodeName(RequestMetrics.GrpcStatus(context));

    private static string Remote(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? $"{address}:{context.Connection.RemotePort}" : "";

    /// <summary>Long-lived calls: gRPC streams of any kind, and the gateway's streaming routes.</summary>
    private static bool IsStream(HttpContext context)
    {
        if (RequestMetrics.GrpcMethod(context) is { } grpc) return grpc.Type != MethodType.Unary;
        var path = context.Request.Path.Value ?? "";
        return StreamsEndOnStop.IsStream(context.Request.Path) || path.EndsWith("/maintenance/snapshot", StringComparison.Ordinal);
    }
}
