using System.Text.Json.Nodes;

namespace HttpKv.Tests.Api;

/// <summary>The checked-in openapi/v1.json must equal what the server serves. Run with HTTPKV_UPDATE_OPENAPI=1 to rewrite it.</summary>
public sealed class OpenApiDocumentTests
{
    [Fact]
    public async Task The_checked_in_document_equals_the_served_one()
    {
        await using var factory = new HttpKvFactory();
        var served = await factory.CreateClient().GetStringAsync("/openapi/v1.json");
        var path = Path.Combine(RepositoryRoot(), "openapi", "v1.json");
        if (Environment.GetEnvironmentVariable("HTTPKV_UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(path, served);
        Assert.True(File.Exists(path), "openapi/v1.json is missing: run the tests with HTTPKV_UPDATE_OPENAPI=1");
        var checkedIn = JsonNode.Parse(await File.ReadAllTextAsync(path));
        Assert.True(JsonNode.DeepEquals(checkedIn, JsonNode.Parse(served)),
            "openapi/v1.json differs from /openapi/v1.json: run the tests with HTTPKV_UPDATE_OPENAPI=1 and commit the file");
    }

    [Fact]
    public async Task The_document_describes_the_gateway_messages_in_gateway_json()
    {
        await using var factory = new HttpKvFactory();
        var document = JsonNode.Parse(await factory.CreateClient().GetStringAsync("/openapi/v1.json"))!;
        var range = document["components"]!["schemas"]!["etcdserverpb.RangeRequest"]!["properties"]!;
        Assert.Equal("byte", (string)range["key"]!["format"]!);
        Assert.Equal("string", (string)range["revision"]!["type"]!);
        Assert.NotNull(document["paths"]!["/v3/kv/range"]!["post"]!["requestBody"]);
        Assert.Null(document["paths"]!["/v3beta/kv/range"]);
    }

    [Fact]
    public async Task Swagger_ui_is_served()
    {
        await using var factory = new HttpKvFactory();
        var html = await factory.CreateClient().GetStringAsync("/swagger/index.html");
        Assert.Contains("swagger-ui", html);
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "HttpKv.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("HttpKv.sln not found above " + AppContext.BaseDirectory);
    }
}
