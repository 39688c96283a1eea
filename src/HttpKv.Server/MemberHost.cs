using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HttpKv.Server;

/// <summary>Opens the member when the host starts (WAL replay included) and closes it when the host stops.
/// Requests that arrive while it opens wait for <see cref="Ready"/>.</summary>
public sealed class MemberHost(IOptions<MemberOptions> options, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly TaskCompletionSource<Member> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MemberOptions Options => options.Value;
    public MemberIdentity Identity { get; } = MemberIdentities.FromOptions(options.Value);
    public Task<Member> Ready => ready.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            ready.TrySetResult(await Member.StartAsync(options.Value, Identity, loggerFactory));
        }
        catch (Exception exception)
        {
            ready.TrySetException(exception);
            throw;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        if (ready.Task.IsCompletedSuccessfully) await ready.Task.Result.DisposeAsync();
        else ready.TrySetException(Protocol.EtcdErrors.Stopped.ToException());
    }
}
