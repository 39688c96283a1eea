using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HttpKv.Server;

/// <summary>Opens the member when the host starts (WAL replay included) and closes it when the host stops.
/// <see cref="Opened"/> completes once the member runs (its peers may talk to it); <see cref="Ready"/> once it has
/// also published itself through the log, which needs a quorum — as etcd, it serves clients only then.</summary>
public sealed class MemberHost(IOptions<MemberOptions> options, Transport.TransportSecurity security, Auth.ITokenProvider tokens,
    TimeProvider clock, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime)
    : IHostedService, IAsyncDisposable
{
    private readonly TaskCompletionSource<Member> opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Member> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stopping = new();

    public MemberOptions Options => options.Value;
    /// <summary>The TLS of the client and peer URLs, for anything that dials another member.</summary>
    public Transport.TransportSecurity Security => security;
    public Task<Member> Opened => opened.Task;
    public Task<Member> Ready => ready.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var member = await Member.StartAsync(options.Value, MemberIdentities.FromOptions(options.Value), security, tokens, clock, loggerFactory);
            if (options.Value.ExperimentalInitialCorruptCheck) await CheckInitialAsync(member, cancellationToken);
            member.Log.RemovedFromCluster += () =>
            {
                loggerFactory.CreateLogger<MemberHost>().LogWarning("the member has been permanently removed from the cluster; stopping");
                lifetime.StopApplication();
            };
            opened.TrySetResult(member);
            _ = PublishAsync(member);
        }
        catch (Exception exception)
        {
            opened.TrySetException(exception);
            ready.TrySetException(exception);
            throw;
        }
    }

    /// <summary>etcd's initial corruption check, before the member serves anyone; a mismatch stops the start.</summary>
    private static async Task CheckInitialAsync(Member member, CancellationToken cancellationToken)
    {
        try
        {
            await member.Corruption.CheckInitialAsync(cancellationToken);
        }
        catch
        {
            await member.DisposeAsync();
            throw;
        }
    }

    private async Task PublishAsync(Member member)
    {
        try
        {
            await member.PublishAsync(stopping.Token);
            ready.TrySetResult(member);
        }
        catch (OperationCanceledException)
        {
            ready.TrySetException(Protocol.EtcdErrors.Stopped.ToException());
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (opened.Task.IsCompletedSuccessfully) await opened.Task.Result.DisposeAsync();
        else opened.TrySetException(Protocol.EtcdErrors.Stopped.ToException());
        ready.TrySetException(Protocol.EtcdErrors.Stopped.ToException());
    }
}
