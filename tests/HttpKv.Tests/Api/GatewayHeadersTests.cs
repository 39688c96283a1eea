using System.Net;
using System.Text;

namespace HttpKv.Tests.Api;

/// <summary>The response headers of etcd's gateway: the relayed gRPC content type, and CORS as etcd's --cors sets it.</summary>
public sealed class GatewayHeadersTests
{
    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? origin, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8);
        return await client.SendAsync(request);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact]
    public async Task A_gateway_answer_relays_the_grpc_content_type_and_allows_every_origin_by_default()
    {
        await using var factory = new HttpKvFactory();
        var client = factory.CreateClient();
        using var put = await SendAsync(client, HttpMethod.Post, "/v3/kv/put", "http://page.example", """{"key":"YQ==","value":"Yg=="}""");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("application/grpc", Header(put, "Grpc-Metadata-Content-Type"));
        Assert.Equal("application/json", put.Content.Headers.ContentType?.MediaType);
        Assert.Equal("*", Header(put, "Access-Control-Allow-Origin"));
        Assert.Equal("POST, GET, OPTIONS, PUT, DELETE", Header(put, "Access-Control-Allow-Methods"));
        Assert.Equal("accept, content-type, authorization", Header(put, "Access-Control-Allow-Headers"));

        // etcd says * whether or not the request names an origin, on every HTTP route, and answers a preflight at once.
        using var health = await SendAsync(client, HttpMethod.Get, "/health", origin: null);
        Assert.Equal("*", Header(health, "Access-Control-Allow-Origin"));
        using var preflight = await SendAsync(client, HttpMethod.Options, "/v3/kv/range", "http://page.example");
        Assert.Equal(HttpStatusCode.OK, preflight.StatusCode);
        Assert.Equal("*", Header(preflight, "Access-Control-Allow-Origin"));
        Assert.Empty(await preflight.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task With_a_list_only_a_listed_origin_gets_the_cors_headers()
    {
        await using var factory = new HttpKvFactory(new Dictionary<string, string> { ["HttpKv:Cors"] = "http://good.example, http://also.example:8080" });
        var client = factory.CreateClient();
        using var allowed = await SendAsync(client, HttpMethod.Post, "/v3/kv/range", "http://also.example:8080", """{"key":"YQ=="}""");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("http://also.example:8080", Header(allowed, "Access-Control-Allow-Origin"));
        using var refused = await SendAsync(client, HttpMethod.Post, "/v3/kv/range", "http://evil.example", """{"key":"YQ=="}""");
        Assert.Equal(HttpStatusCode.OK, refused.StatusCode); // answered, but the browser will not show it to the page
        Assert.Null(Header(refused, "Access-Control-Allow-Origin"));
        Assert.Null(Header(refused, "Access-Control-Allow-Methods"));
        using var preflight = await SendAsync(client, HttpMethod.Options, "/v3/kv/put", "http://evil.example");
        Assert.Equal(HttpStatusCode.OK, preflight.StatusCode);
        Assert.Null(Header(preflight, "Access-Control-Allow-Origin"));
        using var noOrigin = await SendAsync(client, HttpMethod.Get, "/version", origin: null);
        Assert.Null(Header(noOrigin, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public void A_cors_value_that_is_not_origins_is_refused_at_start()
    {
        var factory = new HttpKvFactory(new Dictionary<string, string> { ["HttpKv:Cors"] = "not a url" });
        var exception = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("--cors takes * or a comma-separated list of origin URLs", exception.ToString());
        _ = factory.DisposeAsync();
    }
}
