using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;

namespace HttpKv.Api.Dashboard;

/// <summary>Serves the browser dashboard (the repository's <c>web/</c> folder, embedded in this assembly) at
/// <c>/ui</c>. Embedding rather than copying keeps <c>dotnet run</c>, <c>dotnet publish</c> and the test host on the
/// same files with no content-root setup; the assets are small, so they are held in memory once.</summary>
public static class DashboardEndpoints
{
    private const string ResourcePrefix = "web/";
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    private static readonly Lazy<IReadOnlyDictionary<string, Asset>> Assets = new(Load);

    /// <summary>The dashboard's asset paths (relative to <c>/ui/</c>), for tests and logs.</summary>
    public static IEnumerable<string> AssetPaths => Assets.Value.Keys;

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/ui").ExcludeFromDescription();
        // One route for /ui and /ui/ (routing ignores a trailing slash): the page refers to its modules by absolute
        // path, so either URL works.
        group.MapGet("", (HttpContext context) => Serve(context, "index.html"));
        group.MapGet("/{**path}", (HttpContext context, string path) => Serve(context, path));
        return app;
    }

    private static IResult Serve(HttpContext context, string path)
    {
        if (!Assets.Value.TryGetValue(path, out var asset)) return Results.NotFound();
        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        // Revalidate every time: the files change with the server binary, and a 304 costs almost nothing.
        headers.CacheControl = "no-cache";
        headers["X-Content-Type-Options"] = "nosniff";
        // Only the member itself: no CDN, no other host, no inline script.
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
        if (context.Request.Headers.IfNoneMatch.ToString() == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Bytes, asset.ContentType);
    }

    private static IReadOnlyDictionary<string, Asset> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var path = name[ResourcePrefix.Length..].Replace('\\', '/');
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            if (!ContentTypes.TryGetContentType(path, out var type)) type = "application/octet-stream";
            if (type.StartsWith("text/", StringComparison.Ordinal) || type.EndsWith("javascript", StringComparison.Ordinal)) type += "; charset=utf-8";
            var etag = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16] + "\"";
            assets[path] = new Asset(bytes, type, etag);
        }
        return assets;
    }
}
