using System.Buffers;
using System.Text;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server;
using HttpKv.Server.Auth;
using HttpKv.Server.Watch;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;

namespace HttpKv.Api.Gateway;

/// <summary>Watch over HTTP: etcd's gateway stream (<c>POST /v3/watch</c>, newline-delimited <c>{"result": …}</c>)
/// and Server-Sent Events (<c>GET /v3/watch/sse</c>).</summary>
public static class WatchGatewayEndpoints
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapWatchGateway(this RouteGroupBuilder group)
    {
        var watch = group.MapGroup("").WithTags("Watch");
        watch.MapPost("/watch", (HttpContext context, MemberHost host) => StreamAsync(context, host))
            .WithGatewayContract<WatchRequest, WatchResponse>("Watch",
                "Watches for changes: the body holds one or more WatchRequest objects (usually one `{\"create_request\": {...}}`); " +
                "the response is a stream of `{\"result\": WatchResponse}` objects, one per line, flushed one by one " +
                "(an error mid-stream is one `{\"error\": {...}}` line). The stream stays open until the client closes it.");
        watch.MapGet("/watch/sse", (HttpContext context, MemberHost host, string? key, string? key_base64, bool? prefix,
                    long? start_revision, bool? prev_kv, [FromHeader(Name = "Last-Event-ID")] string? lastEventId) =>
                SseAsync(context, host, key, key_base64, prefix ?? false, start_revision ?? 0, prev_kv ?? false, lastEventId))
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .WithSummary("Watches a key or a prefix as Server-Sent Events, one event per change.")
            .WithDescription(
                "`key` is the key as plain UTF-8 text; `key_base64` is the alternative for binary keys (base64 of the key bytes). " +
                "`prefix=true` watches every key starting with the key (an empty key: every key). `start_revision` replays history " +
                "from that revision (0 or absent: changes from now on); `prev_kv=true` adds the previous version to each event. " +
                "Each change is one SSE event: `event: put` or `event: delete`, `data:` the mvccpb.Event as gateway JSON " +
                "(bytes base64, 64-bit integers as strings). The `id:` is the change's revision, sent on the last event of each " +
                "revision, so a reconnect with `Last-Event-ID` resumes at the next revision without loss or repetition. " +
                "A compacted start revision ends the stream with `event: compacted` (data `{\"compact_revision\": \"N\"}`). " +
                "A comment line (`: heartbeat`) every 15 s keeps idle connections open through proxies.");
        return group;
    }

    // ---- the gateway stream ----

    private static async Task StreamAsync(HttpContext context, MemberHost host)
    {
        if (!await GatewayEndpoint.AdmittedStreamAsync(context, null)) return; // each create request is checked as it comes
        if (await GatewayEndpoint.ReadStreamRequestAsync(context, body => GatewayJson.ReadRequests<WatchRequest>(body.Span)) is not { } requests) return;
        GatewayEndpoint.CountClientRequest(context, stream: true);
        var member = await host.Ready;
        var client = context.RequestAborted;
        var leaderAsked = RequireLeader.IsAsked(context, gateway: true);
        using var noLeader = RequireLeader.Link(member, leaderAsked, client, out var aborted);
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        GatewayEndpoint.StartAnswer(context.Response);
        if (await GatewayEndpoint.RefusedWithoutLeaderAsync(context, member, leaderAsked)) return;
        await using var session = CallerCredentials.NewWatchSession(member, context.RequestServices.GetRequiredService<Authorizer>(),
            CallerCredentials.FromHttp(context));
        try
        {
            var feeding = Task.Run(async () =>
            {
                foreach (var request in requests) await session.HandleAsync(request, aborted);
            }, CancellationToken.None);
            await foreach (var response in session.Responses.ReadAllAsync(aborted))
            {
                await GatewayEndpoint.WriteResultLineAsync(context, response, aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // the client went away, or the member has long had no leader for a stream that asked for one
            if (RequireLeader.EndedForNoLeader(noLeader, client)) await GatewayEndpoint.WriteStreamErrorAsync(context, EtcdErrors.NoLeader);
        }
        catch (EtcdException exception) when (!aborted.IsCancellationRequested)
        {
            await GatewayEndpoint.WriteStreamErrorAsync(context, exception.Error);
        }
    }

    // ---- Server-Sent Events ----

    private static async Task SseAsync(HttpContext context, MemberHost host, string? key, string? keyBase64, bool prefix,
        long startRevision, bool prevKv, string? lastEventId)
    {
        byte[] keyBytes;
        try
        {
            keyBytes = keyBase64 is not null ? Convert.FromBase64String(keyBase64) : Encoding.UTF8.GetBytes(key ?? "");
        }
        catch (FormatException)
        {
            await GatewayEndpoint.WriteErrorAsync(context, EtcdErrors.KeyBase64Invalid);
            return;
        }
        await StreamSseAsync(context, host, keyBytes, prefix, startRevision, prevKv, lastEventId,
            change => ProtoJsonWriter.Format(change), GatewayEndpoint.WriteErrorAsync);
    }

    /// <summary>Streams the changes of a key or a prefix as Server-Sent Events (see the /v3/watch/sse description),
    /// each event's data written by <paramref name="format"/> and refusals by <paramref name="writeError"/>: the
    /// /v3 gateway's JSON and the REST API's UTF-8 shape share this one stream.</summary>
    internal static async Task StreamSseAsync(HttpContext context, MemberHost host, byte[] keyBytes, bool prefix, long startRevision,
        bool prevKv, string? lastEventId, Func<Mvccpb.Event, string> format, Func<HttpContext, EtcdError, Task> writeError)
    {
        if (keyBytes.Length == 0 && !prefix)
        {
            await writeError(context, EtcdErrors.EmptyKey);
            return;
        }
        if (startRevision < 0)
        {
            // etcd's watch takes a negative start revision as "compacted" (the /v3/watch stream answers so); these
            // streams are HttpKv's own, where it can only be a mistake.
            await writeError(context, EtcdErrors.StartRevisionNegative);
            return;
        }
        if (!string.IsNullOrEmpty(lastEventId))
        {
            if (!long.TryParse(lastEventId, out var last) || last < 0)
            {
                await writeError(context, EtcdErrors.LastEventIdInvalid);
                return;
            }
            startRevision = last + 1;
        }
        var member = await host.Ready;
        var aborted = context.RequestAborted;
        var create = new WatchCreateRequest { Key = ByteString.CopyFrom(keyBytes), RangeEnd = ByteString.CopyFrom(prefix ? Rest.KeyText.PrefixEnd(keyBytes) : []) };
        if (!await GatewayEndpoint.AdmittedStreamAsync(context, create, writeError)) return;
        var spec = new WatchSpec(keyBytes, prefix ? Rest.KeyText.PrefixEnd(keyBytes) : [], startRevision, PrevKv: prevKv);
        using var watcher = member.Watches.Watch(spec);
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        try
        {
            await WriteAsync(context, $": watching from revision {member.Watches.Revision}\n\n", aborted);
            while (true)
            {
                var read = watcher.ReadAsync(aborted).AsTask();
                while (await Task.WhenAny(read, Task.Delay(HeartbeatInterval, aborted)) != read)
                {
                    await WriteAsync(context, ": heartbeat\n\n", aborted);
                }
                if (await read is not { } batch) return;
                if (batch.CompactRevision != 0)
                {
                    await WriteAsync(context, $"event: compacted\ndata: {{\"compact_revision\":\"{batch.CompactRevision}\"}}\n\n", aborted);
                    return;
                }
                var text = new StringBuilder();
                for (var i = 0; i < batch.Events.Count; i++)
                {
                    var change = batch.Events[i];
                    text.Append("event: ").Append(change.Type == Mvccpb.Event.Types.EventType.Delete ? "delete" : "put").Append('\n');
                    if (i == batch.Events.Count - 1 || batch.Events[i + 1].Kv.ModRevision != change.Kv.ModRevision)
                    {
                        text.Append("id: ").Append(change.Kv.ModRevision).Append('\n');
                    }
                    text.Append("data: ").Append(format(change)).Append("\n\n");
                }
                await WriteAsync(context, text.ToString(), aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // the client went away
        }
    }

    private static async Task WriteAsync(HttpContext context, string text, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync(text, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }
}
