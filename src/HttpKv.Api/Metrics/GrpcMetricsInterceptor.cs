using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using HttpKv.Server;
using Prometheus;

namespace HttpKv.Api.Metrics;

/// <summary>go-grpc-prometheus's server metrics, which etcd exports: <c>grpc_server_started_total</c> and
/// <c>grpc_server_handled_total</c> by grpc_type, grpc_service, grpc_method (and grpc_code), plus, with
/// <c>--metrics extensive</c>, <c>grpc_server_handling_seconds</c>. The outermost interceptor, so the code is the
/// one the client gets. Label values come from the method table (bounded); each method's series are looked up once.</summary>
public sealed class GrpcMetricsInterceptor(MemberHost host) : Interceptor
{
    private readonly bool extensive = host.Options.Metrics == "extensive";
    private static readonly string[] Types = ["unary", "client_stream", "server_stream", "bidi_stream"];

    private static readonly Counter Started = Prometheus.Metrics.CreateCounter(
        "grpc_server_started_total", "Total number of RPCs started on the server.",
        new CounterConfiguration { LabelNames = ["grpc_type", "grpc_service", "grpc_method"] });

    private static readonly Counter Handled = Prometheus.Metrics.CreateCounter(
        "grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.",
        new CounterConfiguration { LabelNames = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"] });

    private static readonly Histogram Handling = Prometheus.Metrics.CreateHistogram(
        "grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
        new HistogramConfiguration
        {
            LabelNames = ["grpc_type", "grpc_service", "grpc_method"],
            Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    private static readonly ConcurrentDictionary<(string, int), MethodSeries> ByMethod = new();

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var (series, started) = Begin(context, 0);
        try
        {
            var response = await continuation(request, context);
            series.End(context.Status.StatusCode, started, extensive);
            return response;
        }
        catch (Exception exception)
        {
            series.End(CodeOf(exception), started, extensive);
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var (series, started) = Begin(context, 1);
        try
        {
            var response = await continuation(requestStream, context);
            series.End(context.Status.StatusCode, started, extensive);
            return response;
        }
        catch (Exception exception)
        {
            series.End(CodeOf(exception), started, extensive);
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var (series, started) = Begin(context, 2);
        try
        {
            await continuation(request, responseStream, context);
            series.End(context.Status.StatusCode, started, extensive);
        }
        catch (Exception exception)
        {
            series.End(CodeOf(exception), started, extensive);
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var (series, started) = Begin(context, 3);
        try
        {
            await continuation(requestStream, responseStream, context);
            series.End(context.Status.StatusCode, started, extensive);
        }
        catch (Exception exception)
        {
            series.End(CodeOf(exception), started, extensive);
            throw;
        }
    }

    private static (MethodSeries Series, long Started) Begin(ServerCallContext context, int type)
    {
        var series = ByMethod.GetOrAdd((context.Method, type), static key => new MethodSeries(key.Item1, Types[key.Item2]));
        series.Started.Inc();
        return (series, Stopwatch.GetTimestamp());
    }

    /// <summary>What the client is told for an exception escaping the service (grpc-dotnet's own mapping).</summary>
    private static StatusCode CodeOf(Exception exception) => exception switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };

    /// <summary>Go's codes.Code.String(), which go-grpc-prometheus puts in grpc_code (C#'s enum says "Cancelled").</summary>
    internal static string CodeName(StatusCode code) => code == StatusCode.Cancelled ? "Canceled" : code.ToString();

    private sealed class MethodSeries
    {
        private readonly string type;
        private readonly string service;
        private readonly string method;
        private readonly Counter.Child?[] handled = new Counter.Child?[17];
        private Histogram.Child? handling;

        public MethodSeries(string fullName, string type)
        {
            // "/etcdserverpb.KV/Range" → service "etcdserverpb.KV", method "Range".
            var slash = fullName.LastIndexOf('/');
            service = fullName[1..Math.Max(1, slash)];
            method = fullName[(slash + 1)..];
            this.type = type;
            Started = GrpcMetricsInterceptor.Started.WithLabels(type, service, method);
        }

        public Counter.Child Started { get; }

        public void End(StatusCode code, long started, bool extensive)
        {
            var index = (int)code;
            if ((uint)index >= (uint)handled.Length) index = (int)StatusCode.Unknown;
            (handled[index] ??= Handled.WithLabels(type, service, method, CodeName((StatusCode)index))).Inc();
            if (extensive)
                (handling ??= Handling.WithLabels(type, service, method)).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }
}
