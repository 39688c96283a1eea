using HttpKv.Server.Metrics;

namespace HttpKv.Api.Grpc;

/// <summary>Counts a watch or lease keep-alive stream's failed receive or send in
/// <c>etcd_network_server_stream_failures_total</c>, unless it failed because its client went away (as etcd's
/// v3rpc leaves out a client's cancellation). An operation that completed at once is passed through without an async
/// frame (the watch stream's buffered writes mostly do).</summary>
internal static class StreamFailures
{
    public static Task<T> CountAsync<T>(Task<T> operation, string type, string api, CancellationToken aborted) =>
        operation.IsCompletedSuccessfully ? operation : AwaitAsync(operation, type, api, aborted);

    public static Task CountAsync(Task operation, string type, string api, CancellationToken aborted) =>
        operation.IsCompletedSuccessfully ? operation : AwaitAsync(operation, type, api, aborted);

    private static async Task<T> AwaitAsync<T>(Task<T> operation, string type, string api, CancellationToken aborted)
    {
        try
        {
            return await operation;
        }
        catch (Exception) when (!aborted.IsCancellationRequested)
        {
            ServerMetrics.StreamFailures.WithLabels(type, api).Inc();
            throw;
        }
    }

    private static async Task AwaitAsync(Task operation, string type, string api, CancellationToken aborted)
    {
        try
        {
            await operation;
        }
        catch (Exception) when (!aborted.IsCancellationRequested)
        {
            ServerMetrics.StreamFailures.WithLabels(type, api).Inc();
            throw;
        }
    }
}
