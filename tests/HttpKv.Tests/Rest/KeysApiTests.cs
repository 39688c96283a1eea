using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using HttpKv.Tests.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Rest;

/// <summary>The REST key API (/api/v1/keys) on one in-process member: awkward keys round-trip, the value is the body,
/// the ETag is the mod revision, If-Match / If-None-Match make compare-and-swap and create-only writes, lists page
/// with a cursor, a key's history, problem details, and the same permissions as the /v3 routes.</summary>
public sealed class KeysApiTests : MemberTest
{
    /// <summary>Sends a request with exactly this request target, as Kestrel hands it to the handler (RawTarget):
    /// TestServer's HttpClient decodes the path first, which cannot carry every byte (%00, %FF, a literal %25).</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string target, string? body = null, Action<HttpRequestHeaders>? headers = null)
    {
        using var template = new HttpRequestMessage();
        headers?.Invoke(template.Headers);
        var context = await Factory.Server.SendAsync(request =>
        {
            var query = target.IndexOf('?', StringComparison.Ordinal);
            request.Request.Method = method.Method;
            request.Request.Path = new PathString(query < 0 ? target : target[..query]); // for routing; the key comes from RawTarget
            request.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
            request.Features.Get<IHttpRequestFeature>()!.RawTarget = target;
            foreach (var (name, values) in template.Headers) request.Request.Headers[name] = values.ToArray();
            if (body is not null)
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                request.Request.Body = new MemoryStream(bytes);
                request.Request.ContentLength = bytes.Length;
            }
        });
        var response = new HttpResponseMessage((HttpStatusCode)context.Response.StatusCode) { Content = new StreamContent(context.Response.Body) };
        foreach (var (name, values) in context.Response.Headers)
        {
            if (!response.Headers.TryAddWithoutValidation(name, values.ToArray())) response.Content.Headers.TryAddWithoutValidation(name, values.ToArray());
        }
        return response;
    }

    private static async Task<JsonObject> JsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailPart)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await JsonAsync(response);
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.Contains(detailPart, (string)problem["detail"]!);
    }

    [Theory]
    [InlineData("a/b/c", "a/b/c")]
    [InlineData("with%20space", "with space")]
    [InlineData("per%25cent", "per%cent")]
    [InlineData("sl%2Fash", "sl/ash")]
    [InlineData("caf%C3%A9/%E2%9C%93", "café/✓")]
    [InlineData("plus+sign", "plus+sign")]
    public async Task Awkward_keys_round_trip_through_the_path(string encoded, string key)
    {
        var put = await SendAsync(HttpMethod.Put, $"/api/v1/keys/{encoded}", "value of " + key);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(key, (string)(await JsonAsync(put))["key"]!);

        var get = await SendAsync(HttpMethod.Get, $"/api/v1/keys/{encoded}");
        Assert.Equal("value of " + key, await get.Content.ReadAsStringAsync());
        // The same key through the /v3 gateway: the bytes are exactly the decoded key.
        var range = await Client.PostOkAsync("/v3/kv/range", new { key = B64(key) });
        Assert.Equal("value of " + key, Text(range["kvs"]![0]!["value"]));
    }

    [Fact]
    public async Task Bytes_that_are_not_UTF8_round_trip_and_are_shown_as_base64()
    {
        var put = await SendAsync(HttpMethod.Put, "/api/v1/keys/bin/%FF%00%80", "x");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var shown = await JsonAsync(put);
        Assert.Equal("base64", (string)shown["keyEncoding"]!);
        Assert.Equal(Convert.ToBase64String("bin/"u8.ToArray().Concat(new byte[] { 0xFF, 0x00, 0x80 }).ToArray()), (string)shown["key"]!);

        using var binary = new HttpRequestMessage(HttpMethod.Put, "/api/v1/keys/bin/value") { Content = new ByteArrayContent([0xC3, 0x28, 0x00]) };
        Assert.Equal(HttpStatusCode.OK, (await Client.SendAsync(binary)).StatusCode);
        var json = await JsonAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/bin/value?format=json"));
        Assert.Equal("base64", (string)json["valueEncoding"]!);
        Assert.Equal(Convert.ToBase64String([0xC3, 0x28, 0x00]), (string)json["value"]!);
        Assert.Equal(new byte[] { 0xC3, 0x28, 0x00 }, await (await SendAsync(HttpMethod.Get, "/api/v1/keys/bin/value")).Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_gives_the_value_as_the_body_the_mod_revision_as_ETag_and_metadata_as_JSON()
    {
        await SendAsync(HttpMethod.Put, "/api/v1/keys/k", "one");
        var second = await JsonAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/k", "two"));
        var revision = (long)second["revision"]!;

        var get = await SendAsync(HttpMethod.Get, "/api/v1/keys/k");
        Assert.Equal("two", await get.Content.ReadAsStringAsync());
        Assert.Equal($"\"{revision}\"", get.Headers.ETag!.ToString());
        Assert.Equal("application/octet-stream", get.Content.Headers.ContentType!.MediaType);

        var json = await JsonAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/k?format=json"));
        Assert.Equal("k", (string)json["key"]!);
        Assert.Equal("utf-8", (string)json["valueEncoding"]!);
        Assert.Equal("two", (string)json["value"]!);
        Assert.Equal(revision, (long)json["modRevision"]!);
        Assert.Equal(revision - 1, (long)json["createRevision"]!);
        Assert.Equal(2, (long)json["version"]!);
        Assert.Equal("0", (string)json["lease"]!);

        Assert.Equal("one", await (await SendAsync(HttpMethod.Get, $"/api/v1/keys/k?rev={revision - 1}")).Content.ReadAsStringAsync());
        var unchanged = await SendAsync(HttpMethod.Get, "/api/v1/keys/k", headers: h => h.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{revision}\"")));
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/missing"), HttpStatusCode.NotFound, "key missing not found");
    }

    [Fact]
    public async Task If_Match_is_a_compare_and_swap_and_a_conflict_answers_412()
    {
        var created = (long)(await JsonAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/cas", "v1")))["revision"]!;
        var swapped = await SendAsync(HttpMethod.Put, "/api/v1/keys/cas", "v2", h => h.IfMatch.Add(new EntityTagHeaderValue($"\"{created}\"")));
        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
        var newRevision = (long)(await JsonAsync(swapped))["revision"]!;
        Assert.Equal($"\"{newRevision}\"", swapped.Headers.ETag!.ToString());

        var stale = await SendAsync(HttpMethod.Put, "/api/v1/keys/cas", "lost update", h => h.IfMatch.Add(new EntityTagHeaderValue($"\"{created}\"")));
        await AssertProblemAsync(stale, HttpStatusCode.PreconditionFailed, $"modified at revision {newRevision}");
        Assert.Equal("v2", await (await SendAsync(HttpMethod.Get, "/api/v1/keys/cas")).Content.ReadAsStringAsync());

        var staleDelete = await SendAsync(HttpMethod.Delete, "/api/v1/keys/cas", headers: h => h.IfMatch.Add(new EntityTagHeaderValue($"\"{created}\"")));
        Assert.Equal(HttpStatusCode.PreconditionFailed, staleDelete.StatusCode);
        var delete = await SendAsync(HttpMethod.Delete, "/api/v1/keys/cas", headers: h => h.IfMatch.Add(new EntityTagHeaderValue($"\"{newRevision}\"")));
        Assert.Equal(1, (long)(await JsonAsync(delete))["deleted"]!);

        var bad = await SendAsync(HttpMethod.Put, "/api/v1/keys/cas", "x", h => h.TryAddWithoutValidation("If-Match", "W/\"3\""));
        await AssertProblemAsync(bad, HttpStatusCode.BadRequest, "one strong ETag");
    }

    [Fact]
    public async Task If_None_Match_star_creates_only_and_If_Match_star_updates_only()
    {
        var create = await SendAsync(HttpMethod.Put, "/api/v1/keys/once", "first", h => h.IfNoneMatch.Add(EntityTagHeaderValue.Any));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        var again = await SendAsync(HttpMethod.Put, "/api/v1/keys/once", "second", h => h.IfNoneMatch.Add(EntityTagHeaderValue.Any));
        await AssertProblemAsync(again, HttpStatusCode.PreconditionFailed, "already exists");
        Assert.Equal("first", await (await SendAsync(HttpMethod.Get, "/api/v1/keys/once")).Content.ReadAsStringAsync());

        var update = await SendAsync(HttpMethod.Put, "/api/v1/keys/nothere", "x", h => h.IfMatch.Add(EntityTagHeaderValue.Any));
        await AssertProblemAsync(update, HttpStatusCode.PreconditionFailed, "does not exist");
    }

    [Fact]
    public async Task A_list_pages_with_a_cursor_at_one_revision()
    {
        for (var i = 0; i < 7; i++) await SendAsync(HttpMethod.Put, $"/api/v1/keys/list/{i}", $"v{i}");
        await SendAsync(HttpMethod.Put, "/api/v1/keys/listing-not-under-prefix", "x");

        var keys = new List<string>();
        string? next = "/api/v1/keys?prefix=list/&limit=3";
        long? revision = null;
        while (next is not null)
        {
            var page = await JsonAsync(await SendAsync(HttpMethod.Get, next));
            revision ??= (long)page["revision"]!;
            Assert.Equal(revision, (long)page["revision"]!);
            keys.AddRange(page["keys"]!.AsArray().Select(key => (string)key!["key"]!));
            Assert.All(page["keys"]!.AsArray(), key => Assert.Null(key!["value"]));
            next = (string?)page["next"];
            if (keys.Count == 3) await SendAsync(HttpMethod.Put, "/api/v1/keys/list/00", "added after the first page"); // not seen: pinned revision
        }
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"list/{i}"), keys);
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys?limit=5000"), HttpStatusCode.BadRequest, "limit");
    }

    [Fact]
    public async Task Revisions_lists_the_history_still_held_including_deletes()
    {
        await SendAsync(HttpMethod.Put, "/api/v1/keys/h", "1");
        await SendAsync(HttpMethod.Put, "/api/v1/keys/h", "2");
        await SendAsync(HttpMethod.Delete, "/api/v1/keys/h");
        await SendAsync(HttpMethod.Put, "/api/v1/keys/h", "3");

        var history = await JsonAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/h?revisions=true"));
        var versions = history["versions"]!.AsArray();
        Assert.Equal(["1", "2", null, "3"], versions.Select(v => (string?)v!["value"]));
        Assert.Equal([false, false, true, false], versions.Select(v => (bool)v!["deleted"]!));
        Assert.Equal([1L, 2, 0, 1], versions.Select(v => (long)v!["version"]!));

        var last = (long)versions[^1]!["modRevision"]!;
        await Client.PostOkAsync("/v3/kv/compaction", new { revision = last.ToString() });
        var compacted = await JsonAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/h?revisions=true"));
        Assert.Equal(["3"], compacted["versions"]!.AsArray().Select(v => (string?)v!["value"]));
        Assert.Equal(last, (long)compacted["compactRevision"]!);
        await AssertProblemAsync(await SendAsync(HttpMethod.Get, "/api/v1/keys/never?revisions=true"), HttpStatusCode.NotFound, "not found");
    }

    [Fact]
    public async Task Deletes_of_a_key_and_of_a_prefix()
    {
        foreach (var key in new[] { "d/1", "d/2", "d/3", "e" }) await SendAsync(HttpMethod.Put, $"/api/v1/keys/{key}", "x");
        Assert.Equal(1, (long)(await JsonAsync(await SendAsync(HttpMethod.Delete, "/api/v1/keys/e")))["deleted"]!);
        await AssertProblemAsync(await SendAsync(HttpMethod.Delete, "/api/v1/keys/e"), HttpStatusCode.NotFound, "key e not found");
        Assert.Equal(3, (long)(await JsonAsync(await SendAsync(HttpMethod.Delete, "/api/v1/keys/d/?prefix=true")))["deleted"]!);
        Assert.Equal(0, (long)(await JsonAsync(await SendAsync(HttpMethod.Delete, "/api/v1/keys/d/?prefix=true")))["deleted"]!);
    }

    [Fact]
    public async Task Bad_input_gets_problem_details_with_etcds_text()
    {
        await AssertProblemAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/", "x"), HttpStatusCode.BadRequest, "etcdserver: key is not provided");
        await AssertProblemAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/bad%zz", "x"), HttpStatusCode.BadRequest, "percent");
        await AssertProblemAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/l?lease=abc", "x"), HttpStatusCode.BadRequest, "decimal lease ID");
        var noLease = await SendAsync(HttpMethod.Put, "/api/v1/keys/l?lease=12345", "x");
        await AssertProblemAsync(noLease, HttpStatusCode.NotFound, "etcdserver: requested lease not found");
        Assert.Equal(5, (int)(await JsonAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/l?lease=12345", "x")))["code"]!);
        await AssertProblemAsync(await SendAsync(HttpMethod.Put, "/api/v1/keys/big", new string('x', 2 << 20)), HttpStatusCode.BadRequest,
            "etcdserver: request is too large");
    }
}

/// <summary>The REST API answers to the same Authorizer as the /v3 routes (alice of AuthTests).</summary>
public sealed class KeysApiAuthTests : IAsyncLifetime
{
    private readonly HttpKvFactory factory = new(new Dictionary<string, string> { ["HttpKv:BcryptCost"] = "4" });
    private HttpClient client = null!;
    private string token = "";

    public async Task InitializeAsync()
    {
        client = factory.CreateClient();
        await client.EnableAuthWithAliceAsync(); // alice: read-write on a/, read on b, write on [c, d)
        token = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "alice", password = "alicepw" }))["token"]!;
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    private async Task<HttpResponseMessage> AsAliceAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body);
        request.Headers.TryAddWithoutValidation("Authorization", token);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Permissions_are_the_same_as_on_the_v3_routes()
    {
        Assert.Equal(HttpStatusCode.OK, (await AsAliceAsync(HttpMethod.Put, "/api/v1/keys/a/x", "1")).StatusCode);
        Assert.Equal("1", await (await AsAliceAsync(HttpMethod.Get, "/api/v1/keys/a/x")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await AsAliceAsync(HttpMethod.Get, "/api/v1/keys/b")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await AsAliceAsync(HttpMethod.Get, "/api/v1/keys?prefix=a/")).StatusCode);

        foreach (var denied in new[]
                 {
                     await AsAliceAsync(HttpMethod.Put, "/api/v1/keys/b", "2"),
                     await AsAliceAsync(HttpMethod.Delete, "/api/v1/keys/b"),
                     await AsAliceAsync(HttpMethod.Get, "/api/v1/keys/c"), // write-only for her
                     await AsAliceAsync(HttpMethod.Get, "/api/v1/keys?prefix=b"),
                     await AsAliceAsync(HttpMethod.Get, "/api/v1/keys/c?revisions=true"),
                 })
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Equal("etcdserver: permission denied", (string)JsonNode.Parse(await denied.Content.ReadAsStringAsync())!["detail"]!);
        }
        var anonymous = await client.GetAsync("/api/v1/keys/a/x");
        Assert.Equal("etcdserver: user name is empty", (string)JsonNode.Parse(await anonymous.Content.ReadAsStringAsync())!["detail"]!);
    }
}

/// <summary>The REST watch stream: Server-Sent Events in the REST API's UTF-8 shape, resumable with Last-Event-ID.</summary>
public sealed class RestWatchTests : MemberTest
{
    private static async Task<List<(string Event, string? Id, JsonObject Data)>> ReadEventsAsync(StreamReader reader, int count, CancellationToken cancellationToken)
    {
        var events = new List<(string, string?, JsonObject)>();
        string? name = null, id = null;
        while (events.Count < count)
        {
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("stream ended");
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("id: ", StringComparison.Ordinal)) id = line[4..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, id, JsonNode.Parse(line[6..])!.AsObject()));
                name = id = null;
            }
        }
        return events;
    }

    [Fact]
    public async Task A_prefix_watch_streams_puts_and_deletes_in_UTF8_and_resumes_after_the_last_event_id()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string firstId;
        using (var response = await Client.GetAsync("/api/v1/watch?prefix=w/&prevKv=true", HttpCompletionOption.ResponseHeadersRead, timeout.Token))
        {
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
            await reader.ReadLineAsync(timeout.Token); // ": watching from revision …"
            await Client.PutAsync("/api/v1/keys/w/é", new StringContent("v1"), timeout.Token);
            await Client.PutAsync("/api/v1/keys/w/é", new StringContent("v2"), timeout.Token);
            await Client.PutAsync("/api/v1/keys/elsewhere", new StringContent("x"), timeout.Token);
            await Client.DeleteAsync("/api/v1/keys/w/é", timeout.Token);
            var events = await ReadEventsAsync(reader, 3, timeout.Token);
            Assert.Equal(["put", "put", "delete"], events.Select(e => e.Event));
            Assert.Equal("w/é", (string)events[0].Data["kv"]!["key"]!);
            Assert.Equal("utf-8", (string)events[0].Data["kv"]!["keyEncoding"]!);
            Assert.Equal("v2", (string)events[1].Data["kv"]!["value"]!);
            Assert.Equal("v1", (string)events[1].Data["prevKv"]!["value"]!);
            Assert.Equal("delete", (string)events[2].Data["type"]!);
            Assert.Null(events[2].Data["kv"]!["value"]);
            Assert.Equal((string)events[0].Id!, ((long)events[0].Data["kv"]!["modRevision"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
            firstId = events[0].Id!;
        }

        // A reconnect after the first event (as EventSource does) gets the rest and nothing twice.
        using var resumed = new HttpRequestMessage(HttpMethod.Get, "/api/v1/watch?prefix=w/");
        resumed.Headers.TryAddWithoutValidation("Last-Event-ID", firstId);
        using var again = await Client.SendAsync(resumed, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var rest = new StreamReader(await again.Content.ReadAsStreamAsync(timeout.Token));
        var replayed = await ReadEventsAsync(rest, 2, timeout.Token);
        Assert.Equal(["put", "delete"], replayed.Select(e => e.Event));
        Assert.Equal("v2", (string)replayed[0].Data["kv"]!["value"]!);
    }

    [Fact]
    public async Task A_watch_needs_a_key_or_a_prefix()
    {
        var response = await Client.GetAsync("/api/v1/watch");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }
}
