using System.Net;
using System.Text;

namespace HttpKv.Robustness.Fuzz;

/// <summary>One request the fuzzer sent and what came back (status 0: no answer within the time limit, which a
/// stream or a lock wait may rightly give).</summary>
public sealed record FuzzCase(string Method, string Path, string ContentType, byte[] Body, int Status, string Answer)
{
    public override string ToString() =>
        $"{Method} {Path} [{ContentType}] {Body.Length} bytes: {Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 200))} -> {Status} {Answer[..Math.Min(Answer.Length, 300)]}";
}

/// <summary>Sends a live member random and mutated requests on every /v3 route (and on paths, methods, headers
/// and sizes no route expects), from a seed. The member must answer each with a 2xx or 4xx — never a 5xx for a
/// client's mistake — and keep serving. Routes that change membership or switch auth on are left out: they are
/// valid ways to make a member stop answering this fuzzer, not bugs.</summary>
public sealed class HttpFuzzer(string baseUrl, int seed)
{
    private static readonly (string Path, string Sample)[] Routes =
    [
        ("/v3/kv/range", """{"key":"ZnovYQ==","range_end":"Znoveg==","limit":"10","revision":"0","sort_order":"DESCEND","sort_target":"MOD","serializable":true,"keys_only":false,"count_only":false,"min_mod_revision":"1"}"""),
        ("/v3/kv/put", """{"key":"ZnovYQ==","value":"dmFsdWU=","lease":"0","prev_kv":true,"ignore_value":false,"ignore_lease":false}"""),
        ("/v3/kv/deleterange", """{"key":"Znovcg==","range_end":"Znovcw==","prev_kv":true}"""),
        ("/v3/kv/txn", """{"compare":[{"result":"EQUAL","target":"VALUE","key":"Znovdg==","value":"eA=="},{"target":"VERSION","key":"Znovdg==","version":"0"}],"success":[{"request_put":{"key":"Znovdg==","value":"eA=="}},{"request_range":{"key":"Znovdg=="}}],"failure":[{"request_delete_range":{"key":"Znovdw=="}},{"request_txn":{"success":[{"request_put":{"key":"Znov","value":"eQ=="}}]}}]}"""),
        ("/v3/kv/compaction", """{"revision":"1","physical":false}"""),
        ("/v3/cluster/member/list", """{"linearizable":true}"""),
        ("/v3/maintenance/status", "{}"),
        ("/v3/maintenance/hashkv", """{"revision":"0"}"""),
        ("/v3/watch", """{"create_request":{"key":"Znov","range_end":"Zm9w","start_revision":"1","prev_kv":true,"progress_notify":true,"filters":["NOPUT"],"watch_id":"3","fragment":true}}"""),
        ("/v3/watch/sse?key=fz%2F&prefix=true&start_revision=1&prev_kv=true", ""),
        ("/v3/lease/grant", """{"TTL":"30","ID":"0"}"""),
        ("/v3/lease/keepalive", """{"ID":"1"}"""),
        ("/v3/lease/revoke", """{"ID":"1"}"""),
        ("/v3/lease/timetolive", """{"ID":"1","keys":true}"""),
        ("/v3/lease/leases", "{}"),
        ("/v3/kv/lease/timetolive", """{"ID":"1","keys":true}"""),
        ("/v3/lock/lock", """{"name":"Znovbg==","lease":"0"}"""),
        ("/v3/lock/unlock", """{"key":"Znovbg=="}"""),
        ("/v3/election/campaign", """{"name":"ZnovZQ==","lease":"0","value":"dg=="}"""),
        ("/v3/election/proclaim", """{"leader":{"name":"ZnovZQ==","key":"Znovaw==","rev":"1","lease":"1"},"value":"dg=="}"""),
        ("/v3/election/leader", """{"name":"ZnovZQ=="}"""),
        ("/v3/election/observe", """{"name":"Znovbw=="}"""),
        ("/v3/election/resign", """{"leader":{"name":"Znovcg==","key":"Znovcg==","rev":"1","lease":"1"}}"""),
        ("/v3/auth/status", "{}"),
        ("/v3/auth/authenticate", """{"name":"nobody","password":"x"}"""),
        ("/v3/auth/user/add", """{"name":"fuzz","password":"p","options":{"no_password":false},"hashedPassword":""}"""),
        ("/v3/auth/user/get", """{"name":"fuzz"}"""),
        ("/v3/auth/user/list", "{}"),
        ("/v3/auth/user/grant", """{"user":"fuzz","role":"r"}"""),
        ("/v3/auth/user/revoke", """{"name":"fuzz","role":"r"}"""),
        ("/v3/auth/user/changepw", """{"name":"fuzz","password":"q"}"""),
        ("/v3/auth/user/delete", """{"name":"fuzz"}"""),
        ("/v3/auth/role/add", """{"name":"r"}"""),
        ("/v3/auth/role/get", """{"role":"r"}"""),
        ("/v3/auth/role/list", "{}"),
        ("/v3/auth/role/grant", """{"name":"r","perm":{"permType":"READWRITE","key":"Znov","range_end":"Zm9w"}}"""),
        ("/v3/auth/role/revoke", """{"role":"r","key":"Znov","range_end":"Zm9w"}"""),
        ("/v3/auth/role/delete", """{"role":"r"}"""),
        ("/version", ""),
        ("/health", ""),
    ];

    private static readonly string[] Garbage =
    [
        "\"\"", "null", "true", "-1", "1e309", "99999999999999999999999", "-9223372036854775809", "\"-1\"", "\"1e3\"", "\"0x10\"",
        "\"!!!not base64!!!\"", "\"====\"", "[]", "{}", "[{}]", "\"\\u0000\"", "\"\\ud800\"", "1.5", "\"NOPE\"", "\"18446744073709551616\"",
    ];

    private readonly Random random = new(seed);
    private readonly HttpClient client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
    {
        BaseAddress = new Uri(baseUrl),
        Timeout = TimeSpan.FromSeconds(3),
    };

    public async Task<List<FuzzCase>> RunAsync(int requests)
    {
        var cases = new List<FuzzCase>(requests);
        for (var i = 0; i < requests; i++) cases.Add(await SendAsync());
        return cases;
    }

    private async Task<FuzzCase> SendAsync()
    {
        var (path, sample) = Routes[random.Next(Routes.Length)];
        var method = random.Next(10) switch { 0 => HttpMethod.Get, 1 => HttpMethod.Put, 2 => HttpMethod.Delete, _ => HttpMethod.Post };
        if (path.StartsWith("/v3/watch/sse", StringComparison.Ordinal) || path is "/version" or "/health") method = random.Next(4) == 0 ? HttpMethod.Post : HttpMethod.Get;
        path = MutatePath(path);
        var body = MutateBody(sample);
        var contentType = random.Next(6) switch { 0 => "text/plain", 1 => "application/x-www-form-urlencoded", 2 => "garbage/;;;", 3 => "", _ => "application/json" };
        using var request = new HttpRequestMessage(method, path);
        if (method != HttpMethod.Get || random.Next(4) == 0)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType.Length > 0) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        if (random.Next(5) == 0) request.Headers.TryAddWithoutValidation("Authorization", random.Next(2) == 0 ? "Bearer x.1" : RandomText(40));
        if (random.Next(8) == 0) request.Headers.TryAddWithoutValidation("Last-Event-ID", RandomText(12));
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var status = (int)response.StatusCode;
            var answer = status >= 500 ? await ReadSomeAsync(response) : "";
            return new FuzzCase(method.Method, path, contentType, body, status, answer);
        }
        catch (TaskCanceledException)
        {
            return new FuzzCase(method.Method, path, contentType, body, 0, "no answer within 3 s");
        }
        catch (HttpRequestException exception)
        {
            return new FuzzCase(method.Method, path, contentType, body, -1, exception.Message);
        }
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            return await response.Content.ReadAsStringAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return "(streaming)";
        }
    }

    private string MutatePath(string path) => random.Next(12) switch
    {
        0 => path + "%ZZ",
        1 => path.Replace("/v3/", "/v3//", StringComparison.Ordinal),
        2 => path + "?" + RandomText(10),
        3 => path.Replace("/v3/", random.Next(2) == 0 ? "/v3beta/" : "/v3alpha/", StringComparison.Ordinal),
        4 => "/v3/" + RandomText(8),
        5 => path + "/" + Uri.EscapeDataString(RandomText(6)),
        6 => path.Contains('?', StringComparison.Ordinal) ? path + "&start_revision=" + RandomText(5) + "&key_base64=" + RandomText(7) : path,
        _ => path,
    };

    private byte[] MutateBody(string sample)
    {
        var text = sample.Length == 0 ? "{}" : sample;
        switch (random.Next(12))
        {
            case 0: return Encoding.UTF8.GetBytes(text);
            case 1: // flip some bytes
                var bytes = Encoding.UTF8.GetBytes(text);
                for (var i = 0; i < 1 + random.Next(4); i++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 2: return Encoding.UTF8.GetBytes(text[..random.Next(text.Length)]);
            case 3: // a value replaced by something of the wrong type or size
                var colon = IndexOfNth(text, ':', random.Next(1, 1 + text.Count(c => c == ':')));
                if (colon < 0) return Encoding.UTF8.GetBytes(text);
                var end = text.IndexOfAny([',', '}'], colon);
                return Encoding.UTF8.GetBytes(text[..(colon + 1)] + Garbage[random.Next(Garbage.Length)] + (end < 0 ? "" : text[end..]));
            case 4: return Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000));
            case 5: return [.. Enumerable.Range(0, random.Next(1, 300)).Select(_ => (byte)random.Next(256))];
            case 6: return Encoding.UTF8.GetBytes("{\"key\":\"" + new string('A', 2_200_000) + "\"}");
            case 7: return [];
            case 8: return Encoding.UTF8.GetBytes(text + text); // two JSON values
            case 9: return Encoding.UTF8.GetBytes(text.Replace("\"", "'", StringComparison.Ordinal));
            case 10: return Encoding.UTF8.GetBytes("{\"unknown_field\":1," + text.TrimStart('{'));
            default: return Encoding.UTF8.GetBytes(text.Replace("Znov", "", StringComparison.Ordinal));
        }
    }

    private string RandomText(int length)
    {
        const string alphabet = "abcXYZ019%&=?/\\\"'<>{}[] \t\u00e9\u4e2d";
        return new string([.. Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)])]);
    }

    private static int IndexOfNth(string text, char c, int n)
    {
        var at = -1;
        for (var i = 0; i < n; i++)
        {
            at = text.IndexOf(c, at + 1);
            if (at < 0) return -1;
        }
        return at;
    }
}
