using System.Threading.Channels;
using Etcdserverpb;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server;
using HttpKv.Server.Auth;
using HttpKv.Server.Watch;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.Watch</c> bidirectional stream over the member's watch hub. A stream whose client
/// asked for a leader ends with "etcdserver: no leader" when the member has long had none (<see cref="RequireLeader"/>).</summary>
public sealed class WatchGrpcService(MemberHost host, Authorizer authorizer) : Etcdserverpb.Watch.WatchBase
{
    public override async Task Watch(IAsyncStreamReader<WatchRequest> requestStream, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
    {
        var member = await host.Ready;
        var client = context.CancellationToken;
        using var noLeader = RequireLeader.Link(member, RequireLeader.IsAsked(context.GetHttpContext(), gateway: false), client, out var aborted);
        await using var session = CallerCredentials.NewWatchSession(member, authorizer, CallerCredentials.FromGrpc(context));
        var writer = Task.Run(() => WriteAllAsync(session.Responses, responseStream, aborted), CancellationToken.None);
        try
        {
            while (await StreamFailures.CountAsync(requestStream.MoveNext(aborted), "receive", "watch", aborted)) await session.HandleAsync(requestStream.Current, aborted);
            await writer; // the client closed its side: keep streaming until it goes away, as etcd does
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException && aborted.IsCancellationRequested)
        {
            if (RequireLeader.EndedForNoLeader(noLeader, client)) throw EtcdErrors.NoLeader.ToException();
            // else the client went away
        }
    }

    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    /// <summary>Writes the session's responses; a response with more queued behind it is only buffered, so a burst
    /// (one put seen by a hundred watchers on this stream) goes out with one flush instead of one per response.</summary>
    private static async Task WriteAllAsync(ChannelReader<WatchResponse> responses, IServerStreamWriter<WatchResponse> stream, CancellationToken aborted)
    {
        while (await responses.WaitToReadAsync(aborted))
        {
            while (responses.TryRead(out var response))
            {
                stream.WriteOptions = responses.TryPeek(out _) ? Buffered : null;
                await StreamFailures.CountAsync(stream.WriteAsync(response, aborted), "send", "watch", aborted);
            }
        }
    }
}
