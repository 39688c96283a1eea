using System.Net.Http.Headers;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>Watch over gRPC, the gateway's JSON stream and Server-Sent Events, in process.</summary>
public sealed class WatchTests : MemberTest
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static async Task<WatchResponse> NextAsync(AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        return call.ResponseStream.Current;
    }

    [Fact]
    public async Task Grpc_watch_creates_streams_events_replays_history_and_cancels()
    {
        using var channel = Factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        await kv.PutAsync(new PutRequest { Key = B("foo"), Value = B("old") }); // revision 2
        using var call = new Etcdserverpb.Watch.WatchClient(channel).Watch();

        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("foo") } });
        var created = await NextAsync(call);
        Assert.True(created.Created);
        Assert.Equal(0, created.WatchId);
        Assert.Equal(2, created.Header.Revision);
        Assert.NotEqual(0UL, created.Header.MemberId);
        Assert.NotEqual(0UL, created.Header.RaftTerm);

        await kv.PutAsync(new PutRequest { Key = B("foo"), Value = B("new") }); // 3
        var live = await NextAsync(call);
        Assert.Equal(0, live.WatchId);
        Assert.Equal("new", Assert.Single(live.Events).Kv.Value.ToStringUtf8());
        Assert.Equal(3, live.Header.Revision);

        var history = new WatchCreateRequest { Key = B("foo"), StartRevision = 1, PrevKv = true, WatchId = 7 };
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = history });
        Assert.True((await NextAsync(call)) is { Created: true, WatchId: 7 });
        var replayed = new List<Mvccpb.Event>();
        while (replayed.Count < 2) replayed.AddRange((await NextAsync(call)).Events);
        Assert.Equal(["old", "new"], replayed.Select(e => e.Kv.Value.ToStringUtf8()));
        Assert.Equal("old", replayed[1].PrevKv.Value.ToStringUtf8());

        await call.RequestStream.WriteAsync(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = 7 } });
        Assert.True((await NextAsync(call)) is { Canceled: true, WatchId: 7 });
        await call.RequestStream.WriteAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() });
        var progress = await NextAsync(call);
        Assert.Equal(-1, progress.WatchId);
        Assert.Equal(3, progress.Header.Revision);

        await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = B("foo") }); // 4: only watcher 0 is left
        var deleted = await NextAsync(call);
        Assert.Equal(0, deleted.WatchId);
        Assert.Equal(Mvccpb.Event.Types.EventType.Delete, Assert.Single(deleted.Events).Type);
    }

    [Fact]
    public async Task Grpc_watch_of_a_compacted_revision_is_canceled_with_the_compact_revision()
    {
        using var channel = Factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        for (var i = 0; i < 3; i++) await kv.PutAsync(new PutRequest { Key = B("foo"), Value = B("v" + i) });
        await kv.CompactAsync(new CompactionRequest { Revision = 3 });
        using var call = new Etcdserverpb.Watch.WatchClient(channel).Watch();
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("foo"), StartRevision = 2 } });
        Assert.True((await NextAsync(call)).Created);
        var canceled = await NextAsync(call);
        Assert.True(canceled.Canceled);
        Assert.Equal(3, canceled.CompactRevision);
        Assert.Equal(0, canceled.Header.Revision); // etcd's compacted answer: no revision, no cancel reason
        Assert.Equal("", canceled.CancelReason);
    }

    [Fact]
    public async Task Json_watch_streams_one_result_per_line_as_etcds_gateway()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v3/watch")
        {
            Content = new StringContent("{\"create_request\": {\"key\":\"Zm9v\"}}"),
        };
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(Deadline);
        var created = Result(await reader.ReadLineAsync(timeout.Token));
        Assert.True((bool)created["created"]!);
        Assert.NotNull(created["header"]!["cluster_id"]);
        Assert.Null(created["watch_id"]); // 0 is omitted, as etcd's gateway does

        await Client.PostAsync("/v3/kv/put", "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}");
        var put = Result(await reader.ReadLineAsync(timeout.Token));
        var kv = put["events"]![0]!["kv"]!;
        Assert.Equal("Zm9v", (string)kv["key"]!);
        Assert.Equal("YmFy", (string)kv["value"]!);
        Assert.Null(put["events"]![0]!["type"]); // PUT is the zero enum value
        Assert.Equal("2", (string)put["header"]!["revision"]!);

        await Client.PostAsync("/v3/kv/deleterange", "{\"key\":\"Zm9v\"}");
        var deleted = Result(await reader.ReadLineAsync(timeout.Token));
        Assert.Equal("DELETE", (string)deleted["events"]![0]!["type"]!);
    }

    /// <summary>One line of the stream: {"result": …}.</summary>
    private static System.Text.Json.Nodes.JsonNode Result(string? line)
    {
        Assert.NotNull(line);
        var node = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
        Assert.Equal(["result"], node.Select(property => property.Key));
        return node["result"]!;
    }

    [Fact]
    public async Task Sse_streams_changes_with_revision_ids_and_resumes_after_last_event_id()
    {
        await Client.PostAsync("/v3/kv/put", "{\"key\":\"YTE=\",\"value\":\"eA==\"}"); // a1 at 2
        await Client.PostAsync("/v3/kv/put", "{\"key\":\"YTI=\",\"value\":\"eQ==\"}"); // a2 at 3
        await Client.PostAsync("/v3/kv/put", "{\"key\":\"Yg==\",\"value\":\"eg==\"}"); // b at 4

        var all = await ReadSseAsync("/v3/watch/sse?key=a&prefix=true&start_revision=1", null, 2);
        Assert.Equal(["put 2", "put 3"], all);
        var resumed = await ReadSseAsync("/v3/watch/sse?key_base64=YQ==&prefix=true&start_revision=1", "2", 1);
        Assert.Equal(["put 3"], resumed);
    }

    [Fact]
    public async Task Sse_with_a_negative_start_revision_is_refused_before_the_stream_starts()
    {
        using var response = await Client.GetAsync("/v3/watch/sse?key=a&start_revision=-3");
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("start revision must be 0 (from now) or a revision", await response.Content.ReadAsStringAsync());
    }

    /// <summary>"event id" of the first <paramref name="count"/> SSE events.</summary>
    private async Task<List<string>> ReadSseAsync(string url, string? lastEventId, int count)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(Deadline);
        var events = new List<string>();
        string? name = null, id = null;
        while (events.Count < count)
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("stream ended");
            if (line.StartsWith("event: ")) name = line[7..];
            else if (line.StartsWith("id: ")) id = line[4..];
            else if (line.StartsWith("data: ")) Assert.Contains("\"kv\"", line);
            else if (line.Length == 0 && name is not null)
            {
                events.Add($"{name} {id}");
                name = id = null;
            }
        }
        return events;
    }
}
