using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HttpKv.Tests.Api;

/// <summary>Small helpers for the gateway's JSON: base64 bytes and POSTed bodies.</summary>
public static class Gateway
{
    public static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    public static string Text(JsonNode? base64) => Encoding.UTF8.GetString(Convert.FromBase64String((string)base64!));

    public static async Task<(int Status, JsonObject Body)> PostAsync(this HttpClient client, string path, string json, string? contentType = "application/json")
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = contentType is null ? null : new MediaTypeHeaderValue(contentType);
        using var response = await client.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>A POST of <paramref name="json"/> with <paramref name="token"/> (when there is one) as its Authorization
    /// header: the status and the body as text.</summary>
    public static async Task<(int Status, string Body)> PostWithTokenAsync(this HttpClient client, string path, string json, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (token is not null) request.Headers.TryAddWithoutValidation("Authorization", token);
        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<JsonObject> PostOkAsync(this HttpClient client, string path, object body)
    {
        var (status, json) = await client.PostAsync(path, JsonSerializer.Serialize(body));
        Assert.True(status == 200, $"{path} answered {status}: {json}");
        return json;
    }

    /// <summary>root (with the root role), and alice with READWRITE on the prefix a/, READ on b, WRITE on [c, d); the key
    /// b exists; auth enabled.</summary>
    public static async Task EnableAuthWithAliceAsync(this HttpClient client)
    {
        await client.PostOkAsync("/v3/auth/user/add", new { name = "root", password = "rootpw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "root", role = "root" });
        await client.PostOkAsync("/v3/auth/role/add", new { name = "r1" });
        await client.PostOkAsync("/v3/auth/role/grant", new { name = "r1", perm = new { permType = "READWRITE", key = B64("a/"), range_end = B64("a0") } });
        await client.PostOkAsync("/v3/auth/role/grant", new { name = "r1", perm = new { permType = "READ", key = B64("b") } });
        await client.PostOkAsync("/v3/auth/role/grant", new { name = "r1", perm = new { permType = "WRITE", key = B64("c"), range_end = B64("d") } });
        await client.PostOkAsync("/v3/auth/user/add", new { name = "alice", password = "alicepw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "alice", role = "r1" });
        await client.PostOkAsync("/v3/kv/put", new { key = B64("b"), value = B64("v") });
        await client.PostOkAsync("/v3/auth/enable", new { });
    }
}
