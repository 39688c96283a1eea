using System.Net;
using Microsoft.Playwright;

namespace HttpKv.Browser.Tests;

/// <summary>etcd's --cors in a real browser: a page served from an allowed origin reads the JSON gateway's answer;
/// a page from any other origin cannot (chromium refuses to hand it the answer). The pages come from two small web
/// servers on other loopback ports (other origins); the member runs with <c>--cors</c> naming one of them.</summary>
public sealed class CorsTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    /// <summary>A web server on a free loopback port answering every request with an empty page.</summary>
    private sealed class PageServer : IDisposable
    {
        private readonly HttpListener listener = new();

        public PageServer()
        {
            Origin = $"http://127.0.0.1:{HttpKvServer.FreePort()}";
            listener.Prefixes.Add(Origin + "/");
            listener.Start();
            _ = ServeAsync();
        }

        public string Origin { get; }

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                var page = "<!doctype html><title>page</title>"u8.ToArray();
                context.Response.ContentType = "text/html";
                context.Response.ContentLength64 = page.Length;
                await context.Response.OutputStream.WriteAsync(page);
                context.Response.Close();
            }
        }

        public void Dispose() => listener.Close();
    }

    /// <summary>Opens a blank page at <paramref name="origin"/> and runs a fetch of <c>/v3/kv/range</c> from it, with a
    /// JSON content type (so chromium asks with a preflight first): the body it could read, or the error it got.</summary>
    private static async Task<string> FetchFromAsync(IBrowser browser, string origin, string memberUrl)
    {
        await using var context = await browser.NewContextAsync();
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync(origin + "/");
        return await page.EvaluateAsync<string>("""
            async url => {
              try {
                const response = await fetch(url + "/v3/kv/range", {
                  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: btoa("k") }) });
                return "read " + await response.text();
              } catch (error) {
                return "refused " + error.name;
              }
            }
            """, memberUrl);
    }

    [Fact]
    public async Task A_page_from_an_allowed_origin_reads_and_one_from_another_origin_cannot()
    {
        using var allowedSite = new PageServer();
        using var otherSite = new PageServer();
        await using var member = new HttpKvServer("--cors", allowedSite.Origin);
        await member.StartAsync();
        using (var http = new HttpClient())
        {
            using var put = await http.PostAsync(member.Url + "/v3/kv/put", new StringContent("""{"key":"aw==","value":"dg=="}"""));
            put.EnsureSuccessStatusCode();
        }

        var allowed = await FetchFromAsync(fixture.Browser, allowedSite.Origin, member.Url);
        Assert.StartsWith("read {\"header\":", allowed);
        Assert.Contains("\"value\":\"dg==\"", allowed);

        var other = await FetchFromAsync(fixture.Browser, otherSite.Origin, member.Url);
        Assert.Equal("refused TypeError", other);
    }
}
