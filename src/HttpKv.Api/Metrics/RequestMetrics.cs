using System.Collections.Concurrent;
using System.Globalization;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace HttpKv.Api.Metrics;

/// <summary>Per-request metrics, counted by <see cref="RequestLog"/>'s middleware (no gRPC interceptor, no second
/// middleware: each cost a measurable share of a serializable read's CPU). gRPC calls get go-grpc-prometheus's series,
/// which etcd exports: <c>grpc_server_started_total</c> and <c>grpc_server_handled_total</c> by grpc_type, grpc_service,
/// grpc_method (and grpc_code), and with <c>--metrics extensive</c> <c>grpc_server_handling_seconds</c>. Other HTTP
/// requests get prometheus-net's names, <c>http_requests_received_total</c> and <c>http_request_duration_seconds</c>,
/// by code, method and endpoint (the route template: bounded). Each endpoint's series are looked up once and kept;
/// no exemplars (they only show in OpenMetrics, and reading the trace context costs on every call).</summary>
internal sealed class RequestMetrics(bool extensive)
{
    /// <summary>go-grpc-prometheus's grpc_type values, by <see cref="MethodType"/>.</summary>
    internal static readonly string[] GrpcTypes = ["unary", "client_stream", "server_stream", "bidi_stream"];

    /// <summary>go-grpc-prometheus's labels of a method's series.</summary>
    internal static readonly string[] GrpcMethodLabels = ["grpc_type", "grpc_service", "grpc_method"];

    private static readonly Counter GrpcStarted = Prometheus.Metrics.CreateCounter(
        "grpc_server_started_total", "Total number of RPCs started on the server.",
        new CounterConfiguration { LabelNames = GrpcMethodLabels });

    private static readonly Counter GrpcHandled = Prometheus.Metrics.CreateCounter(
        "grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.",
        new CounterConfiguration { LabelNames = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"] });

    private static readonly Histogram GrpcHandling = Prometheus.Metrics.CreateHistogram(
        "grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
        new HistogramConfiguration { LabelNames = GrpcMethodLabels, Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    private static readonly Counter HttpReceived = Prometheus.Metrics.CreateCounter(
        "http_requests_received_total", "Provides the count of HTTP requests that have been processed by the ASP.NET Core pipeline.",
        new CounterConfiguration { LabelNames = ["code", "method", "endpoint"] });

    private static readonly Histogram HttpDuration = Prometheus.Metrics.CreateHistogram(
        "http_request_duration_seconds", "The duration of HTTP requests processed by an ASP.NET Core application.",
        new HistogramConfiguration
        {
            LabelNames = ["code", "method", "endpoint"],
            Buckets = Histogram.ExponentialBuckets(0.0001, 2, 18), // 0.1 ms to 13 s
        });

    private readonly ConcurrentDictionary<Endpoint, GrpcSeries> grpcByEndpoint = new();
    private readonly ConcurrentDictionary<(Endpoint?, string), HttpSeries> httpByEndpoint = new();

    /// <summary>The gRPC method of the request's endpoint, or null for plain HTTP.</summary>
    public static IMethod? GrpcMethod(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method;

    public void Started(HttpContext context)
    {
        if (GrpcMethod(context) is { } method) Grpc(context.GetEndpoint()!, method).Started.Inc(Exemplar.None);
    }

    public void Finished(HttpContext context, int httpStatus, TimeSpan elapsed)
    {
        var endpoint = context.GetEndpoint();
        if (GrpcMethod(context) is { } method)
        {
            Grpc(endpoint!, method).Finished(GrpcStatus(context), elapsed, extensive);
            return;
        }
        var series = httpByEndpoint.GetOrAdd((endpoint, KnownMethod(context.Request.Method)), static key => new HttpSeries(key.Item1, key.Item2));
        series.Finished(httpStatus, elapsed);
    }

    /// <summary>The method as a label value; any other token a client sends is "OTHER", so labels stay bounded.</summary>
    private static string KnownMethod(string method) => method switch
    {
        "GET" or "POST" or "PUT" or "DELETE" or "HEAD" or "OPTIONS" or "PATCH" => method,
        _ => "OTHER",
    };

    private GrpcSeries Grpc(Endpoint endpoint, IMethod method) =>
        grpcByEndpoint.GetOrAdd(endpoint, static (_, method) => new GrpcSeries(method), method);

    /// <summary>The call's status as the client got it: from the trailers, or the headers of a trailers-only answer;
    /// none at all means the client went away mid-call.</summary>
    public static StatusCode GrpcStatus(HttpContext context)
    {
        var trailers = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        var value = trailers is not null && trailers.TryGetValue("grpc-status", out var fromTrailers) ? fromTrailers.ToString()
            : context.Response.Headers["grpc-status"].ToString();
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code <= (int)StatusCode.Unauthenticated)
            return (StatusCode)code;
        return context.RequestAborted.IsCancellationRequested ? StatusCode.Cancelled : StatusCode.Unknown;
    }

    /// <summary>Go's codes.Code.String(), which go-grpc-prometheus puts in grpc_code (C#'s enum says "Cancelled").</summary>
    public static string CodeName(StatusCode code) => code == StatusCode.Cancelled ? "Canceled" : code.ToString();

    private sealed class GrpcSeries
    {
        private readonly string type, service, method;
        private readonly Counter.Child?[] handled = new Counter.Child?[(int)StatusCode.Unauthenticated + 1];
        private Histogram.Child? handling;

        public GrpcSeries(IMethod method)
        {
            type = GrpcTypes[(int)method.Type];
            service = method.ServiceName;
            this.method = method.Name;
            Started = GrpcStarted.WithLabels(type, service, this.method);
        }

        public Counter.Child Started { get; }

        public void Finished(StatusCode code, TimeSpan elapsed, bool extensive)
        {
            (handled[(int)code] ??= GrpcHandled.WithLabels(type, service, method, CodeName(code))).Inc(Exemplar.None);
            if (extensive) (handling ??= GrpcHandling.WithLabels(type, service, method)).Observe(elapsed.TotalSeconds, Exemplar.None);
        }
    }

    private sealed class HttpSeries(Endpoint? endpoint, string method)
    {
        private readonly string route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "";
        // Index: the status code (100-599); filled as codes occur.
        private readonly (Counter.Child Count, Histogram.Child Duration)?[] byStatus = new (Counter.Child, Histogram.Child)?[600];

        public void Finished(int status, TimeSpan elapsed)
        {
            if ((uint)status >= (uint)byStatus.Length) status = 599;
            var series = byStatus[status] ??= (HttpReceived.WithLabels(Code(status), method, route), HttpDuration.WithLabels(Code(status), method, route));
            series.Count.Inc(Exemplar.None);
            series.Duration.Observe(elapsed.TotalSeconds, Exemplar.None);
        }

        private static string Code(int status) => status.ToString(CultureInfo.InvariantCulture);
    }
}
