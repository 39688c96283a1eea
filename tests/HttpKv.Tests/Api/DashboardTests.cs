using System.Net;
using System.Text.RegularExpressions;
using HttpKv.Api.Dashboard;

namespace HttpKv.Tests.Api;

/// <summary>The dashboard is served from the httpkv assembly at /ui: the page at /ui and /ui/, every module it
/// imports (found by following the imports from the page, so a missing file fails here), with the right types.</summary>
public sealed partial class DashboardTests : MemberTest
{
    [Theory]
    [InlineData("/ui")]
    [InlineData("/ui/")]
    [InlineData("/ui/index.html")]
    public async Task The_page_is_served(string path)
    {
        using var response = await Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<script type=\"module\" src=\"/ui/js/app.js\">", html);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Every_module_the_page_imports_is_served_as_javascript()
    {
        var seen = new HashSet<string>();
        var pending = new Queue<string>(["/ui/js/app.js"]);
        while (pending.TryDequeue(out var path))
        {
            if (!seen.Add(path)) continue;
            using var response = await Client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            var source = await response.Content.ReadAsStringAsync();
            foreach (Match import in ImportPattern().Matches(source))
                pending.Enqueue(new Uri(new Uri("http://x" + path), import.Groups[1].Value).AbsolutePath);
        }
        Assert.Superset(new HashSet<string> { "/ui/js/api.js", "/ui/js/cluster.js", "/ui/js/keys.js", "/ui/js/watch.js",
            "/ui/js/leases.js", "/ui/js/auth.js", "/ui/js/metrics.js", "/ui/js/diff.js" }, seen);
        // Every embedded module is reachable from the page (none is dead weight or forgotten in an import).
        Assert.Equal(DashboardEndpoints.AssetPaths.Where(p => p.EndsWith(".js", StringComparison.Ordinal)).Select(p => "/ui/" + p).Order(), seen.Order());
    }

    [Fact]
    public async Task The_stylesheet_is_css_and_unknown_files_are_404()
    {
        using var css = await Client.GetAsync("/ui/css/app.css");
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        using var missing = await Client.GetAsync("/ui/js/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var readme = await Client.GetAsync("/ui/README.md");
        Assert.Equal(HttpStatusCode.NotFound, readme.StatusCode);
    }

    [Fact]
    public async Task An_unchanged_asset_is_304_on_revalidation()
    {
        using var first = await Client.GetAsync("/ui/js/api.js");
        var etag = first.Headers.ETag!;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui/js/api.js");
        request.Headers.IfNoneMatch.Add(etag);
        using var second = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }

    [GeneratedRegex("""(?:import|from)\s*['"]([^'"]+\.js)['"]""")]
    private static partial Regex ImportPattern();
}
