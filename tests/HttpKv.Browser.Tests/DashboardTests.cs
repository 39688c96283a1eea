using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // one chromium at a time on a 2-core machine

namespace HttpKv.Browser.Tests;

/// <summary>The dashboard in Debian's chromium against a real httpkv (auth off): keys created, edited and deleted
/// through the page and seen in the live watch tail; a write from outside between load and save is reported as a
/// conflict and not overwritten; history diff; every page renders (screenshots in tests/artifacts/), also on a
/// phone-sized screen, with no script error and no request to another host.</summary>
public sealed class DashboardTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    static DashboardTests() => SetDefaultExpectTimeout(20_000);

    private HttpClient Http => fixture.Http;

    private async Task PutAsync(string key, string value)
    {
        using var response = await Http.PutAsync($"/api/v1/keys/{Uri.EscapeDataString(key)}", new StringContent(value));
        response.EnsureSuccessStatusCode();
    }

    private async Task<(HttpStatusCode Status, string Value)> GetAsync(string key)
    {
        using var response = await Http.GetAsync($"/api/v1/keys/{Uri.EscapeDataString(key)}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static Task GoAsync(IPage page, string name) => page.GetByRole(AriaRole.Navigation, new() { Name = "Pages" })
        .GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();

    [Fact]
    public async Task Create_edit_see_it_in_the_watch_tail_then_delete()
    {
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/watch");
        await page.FillAsync("#watch-prefix", "flow/");
        await page.ClickAsync("#watch-toggle");
        await Expect(page.Locator("#watch-status")).ToContainTextAsync("Live");

        await GoAsync(page, "Keys");
        await page.FillAsync("#new-key", "flow/one");
        await page.FillAsync("#new-value", "first");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(page.Locator("#create-status")).ToContainTextAsync("Created \"flow/one\"");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("first");
        Assert.Equal((HttpStatusCode.OK, "first"), await GetAsync("flow/one"));

        await page.FillAsync("#value-editor", "second");
        await page.ClickAsync("#save");
        await Expect(page.Locator("#key-status")).ToContainTextAsync("Saved at revision");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("second");
        Assert.Equal((HttpStatusCode.OK, "second"), await GetAsync("flow/one"));
        await BrowserFixture.ScreenshotAsync(page, "keys");

        await GoAsync(page, "Watch");
        await Expect(page.Locator("#watch-rows tr.event-put", new() { HasText = "second" })).ToContainTextAsync("flow/one");
        await Expect(page.Locator("#watch-rows tr.event-put", new() { HasText = "first" })).ToHaveCountAsync(1);

        await GoAsync(page, "Keys");
        await page.ClickAsync("#delete");
        await Expect(page.Locator("#key-status")).ToContainTextAsync("Deleted \"flow/one\"");
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("flow/one")).Status);

        await GoAsync(page, "Watch");
        await Expect(page.Locator("#watch-rows tr.event-delete")).ToContainTextAsync("flow/one");
        await BrowserFixture.ScreenshotAsync(page, "watch");
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_watch_tail_resumes_after_a_restart_without_losing_or_repeating_a_change()
    {
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/watch");
        await page.FillAsync("#watch-prefix", "resume/");
        await page.ClickAsync("#watch-toggle");
        await Expect(page.Locator("#watch-status")).ToContainTextAsync("Live");
        await PutAsync("resume/a", "before");
        await Expect(page.Locator("#watch-rows")).ToContainTextAsync("before");

        // The member goes away and comes back; a change is made before the browser reconnects (EventSource waits a
        // few seconds), so only Last-Event-ID can bring it to the tail.
        await fixture.Server.KillAsync();
        await Expect(page.Locator("#watch-status")).ToContainTextAsync("reconnecting");
        await fixture.Server.StartAsync();
        await PutAsync("resume/b", "while away");
        await Expect(page.Locator("#watch-rows")).ToContainTextAsync("while away");
        await Expect(page.Locator("#watch-status")).ToContainTextAsync("Live");
        await PutAsync("resume/c", "after");
        await Expect(page.Locator("#watch-rows")).ToContainTextAsync("after");
        await Expect(page.Locator("#watch-rows tr")).ToHaveCountAsync(3); // "before" once: nothing repeated
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_write_from_outside_between_load_and_save_is_a_conflict_and_is_not_overwritten()
    {
        await PutAsync("conflict/k", "original");
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/keys");
        await page.FillAsync("#keys-prefix", "conflict/");
        await page.GetByRole(AriaRole.Button, new() { Name = "List", Exact = true }).ClickAsync();
        await Expect(page.Locator(".crumbs")).ToHaveTextAsync("(all) / conflict");
        await page.ClickAsync("[data-key='conflict/k']");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("original");

        await PutAsync("conflict/k", "from curl"); // someone else, after the page loaded the value
        await page.FillAsync("#value-editor", "from the browser");
        await page.ClickAsync("#save");
        await Expect(page.Locator("#key-status")).ToContainTextAsync("Conflict");
        Assert.Equal((HttpStatusCode.OK, "from curl"), await GetAsync("conflict/k"));

        await page.ClickAsync("#delete"); // the stale revision cannot delete either
        await Expect(page.Locator("#key-status")).ToContainTextAsync("Nothing was deleted");
        Assert.Equal((HttpStatusCode.OK, "from curl"), await GetAsync("conflict/k"));
        await BrowserFixture.ScreenshotAsync(page, "keys-conflict");

        await page.ClickAsync("#reload");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("from curl");
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    /// <summary>A key that is not UTF-8 (shown base64 by the API) opens from the tree and saves back to the same bytes.</summary>
    [Fact]
    public async Task A_key_that_is_not_UTF8_opens_from_the_tree_and_saves_to_the_same_key()
    {
        using (var put = await Http.PutAsync("/api/v1/keys/bytes/%FF%FE", new StringContent("raw key")))
            put.EnsureSuccessStatusCode();
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/keys");
        await page.FillAsync("#keys-prefix", "bytes/");
        await page.GetByRole(AriaRole.Button, new() { Name = "List", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "(bytes)" }).ClickAsync();
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("raw key");
        await page.FillAsync("#value-editor", "edited");
        await page.ClickAsync("#save");
        await Expect(page.Locator("#key-status")).ToContainTextAsync("Saved at revision");
        using var get = await Http.GetAsync("/api/v1/keys/bytes/%FF%FE");
        Assert.Equal("edited", await get.Content.ReadAsStringAsync());
        using var list = await Http.GetAsync("/api/v1/keys?prefix=bytes/");
        Assert.Single(JsonNode.Parse(await list.Content.ReadAsStringAsync())!["keys"]!.AsArray()); // no second, mangled key
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task History_shows_a_line_diff_between_two_revisions_and_JSON_and_hex_views()
    {
        await PutAsync("hist/doc", "{\"a\":1,\"b\":[1,2]}");
        await PutAsync("hist/doc", "line1\nline2\nline3");
        await PutAsync("hist/doc", "line1\nline2b\nline3");
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/keys");
        await page.FillAsync("#keys-prefix", "hist/");
        await page.Keyboard.PressAsync("Enter");
        await page.ClickAsync("[data-key='hist/doc']");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show history" }).ClickAsync();
        await Expect(page.Locator("#diff .del")).ToHaveTextAsync("- line2");
        await Expect(page.Locator("#diff .add")).ToHaveTextAsync("+ line2b");
        await Expect(page.Locator("#history")).Not.ToContainTextAsync("null");

        await page.SelectOptionAsync("#diff-from", new SelectOptionValue { Index = 0 });
        await Expect(page.Locator("#diff")).ToContainTextAsync("- {\"a\":1,\"b\":[1,2]}");
        await page.GetByLabel("hex").CheckAsync();
        await Expect(page.Locator("#value-view")).ToContainTextAsync("6c 69 6e 65 31 0a"); // "line1\n"
        await BrowserFixture.ScreenshotAsync(page, "keys-history");

        await PutAsync("hist/json", "{\"a\":1}");
        await page.FillAsync("#keys-prefix", "hist/");
        await page.Keyboard.PressAsync("Enter");
        await page.ClickAsync("[data-key='hist/json']");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("{\n  \"a\": 1\n}"); // pretty JSON by default
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_page_renders_and_the_nav_works_from_the_keyboard()
    {
        // A lease with a key, for the Leases page.
        using (var grant = await Http.PostAsync("/v3/lease/grant", new StringContent("{\"TTL\":300,\"ID\":4242}")))
            grant.EnsureSuccessStatusCode();
        using (var put = await Http.PostAsync("/v3/kv/put", new StringContent($"{{\"key\":\"{B64("leased/key")}\",\"value\":\"{B64("v")}\",\"lease\":\"4242\"}}")))
            put.EnsureSuccessStatusCode();
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui");

        await Expect(page.Locator("#cluster-body tbody tr")).ToHaveCountAsync(1);
        await Expect(page.Locator("#cluster-body .role")).ToHaveTextAsync("leader");
        await Expect(page.Locator("#cluster-body")).ToContainTextAsync("healthy");
        await Expect(page.Locator("#auth-banner")).ToContainTextAsync("Authentication is off");
        await BrowserFixture.ScreenshotAsync(page, "cluster");

        // Keyboard: the nav entries are real links, reached with Tab and followed with Enter.
        await page.Locator("#nav a[data-page='leases']").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#nav a[aria-current='page']")).ToHaveTextAsync("Leases");
        var ttl = page.Locator("#lease-rows [data-ttl='4242']");
        await Expect(page.Locator("#lease-rows")).ToContainTextAsync("leased/key");
        var before = int.Parse((await ttl.TextContentAsync())!.Split(' ')[0]);
        await Expect(ttl).Not.ToHaveTextAsync($"{before} s"); // counts down
        await BrowserFixture.ScreenshotAsync(page, "leases");
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke lease 4242" }).ClickAsync();
        await Expect(page.Locator("#lease-status")).ToContainTextAsync("Revoked 4242");
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("leased/key")).Status);

        await GoAsync(page, "Auth");
        await Expect(page.Locator("#auth-status")).ToContainTextAsync("Authentication is off");
        await BrowserFixture.ScreenshotAsync(page, "auth-off");

        await GoAsync(page, "Metrics");
        await Expect(page.Locator("#metrics-status")).ToContainTextAsync("Updated");
        await Expect(page.Locator("#metric-db")).ToContainTextAsync("KiB");
        // Writes made while the page samples show up as a write rate (rates need two scrapes 2 s apart).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var n = 0;
        string writes;
        do
        {
            await PutAsync($"metric/{n++}", "x");
            writes = await page.Locator("#metric-writes").TextContentAsync() ?? "";
        } while (!(double.TryParse(writes.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var rate) && rate > 0) && DateTime.UtcNow < deadline);
        Assert.True(double.Parse(writes.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) > 0, $"writes/s: {writes}");
        await Expect(page.Locator("#metric-fsync")).ToContainTextAsync("ms");
        await BrowserFixture.ScreenshotAsync(page, "metrics");

        await GoAsync(page, "Keys");
        await Expect(page.Locator("#list-status")).ToContainTextAsync("key");
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_phone_sized_screen_has_no_horizontal_scrolling()
    {
        await PutAsync("phone/a-rather-long-key-name-that-should-wrap-instead-of-scrolling", "value");
        var (page, problems) = await fixture.NewPageAsync(390, 844);
        foreach (var route in new[] { "cluster", "keys", "watch", "leases", "auth", "metrics" })
        {
            await page.GotoAsync($"/ui#/{route}");
            await Expect(page.Locator($"#page-{route} h2")).ToBeVisibleAsync();
            if (route == "cluster") await Expect(page.Locator("#cluster-body .role")).ToHaveTextAsync("leader");
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
            Assert.True(overflow <= 1, $"{route}: {overflow}px wider than the screen");
            await BrowserFixture.ScreenshotAsync(page, $"phone-{route}");
        }
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}

/// <summary>With authentication on: the banner is gone, sign-in is refused with a wrong password and works with the
/// right one, root sees users and roles, and the keys and the watch tail (read with fetch, since EventSource cannot
/// send the token) work with the token.</summary>
public sealed class AuthDashboardTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    static AuthDashboardTests() => SetDefaultExpectTimeout(20_000);

    private async Task<JsonNode> V3Async(string path, string body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v3/{path}") { Content = new StringContent(body) };
        if (token is not null) request.Headers.TryAddWithoutValidation("Authorization", token);
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task Sign_in_with_auth_on()
    {
        await V3Async("auth/user/add", "{\"name\":\"root\",\"password\":\"rootpw\"}");
        await V3Async("auth/user/grant", "{\"user\":\"root\",\"role\":\"root\"}");
        await V3Async("auth/role/add", "{\"name\":\"app\"}");
        await V3Async("auth/enable", "{}");
        var token = (string)(await V3Async("auth/authenticate", "{\"name\":\"root\",\"password\":\"rootpw\"}"))["token"]!;

        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui#/auth");
        await Expect(page.Locator("#auth-status")).ToContainTextAsync("Authentication is on");
        await Expect(page.Locator("#auth-banner")).ToBeHiddenAsync();

        await page.GetByLabel("User", new() { Exact = true }).FillAsync("root");
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync("wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.Locator("#signin-status")).ToContainTextAsync("Sign-in refused");

        await page.GetByLabel("Password", new() { Exact = true }).FillAsync("rootpw");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.Locator("#whoami")).ToContainTextAsync("Signed in as root");
        await Expect(page.Locator("#user-list")).ToContainTextAsync("root: root");
        await Expect(page.Locator("#role-list")).ToContainTextAsync("app");
        var stored = await page.EvaluateAsync<int>("() => localStorage.length + sessionStorage.length");
        Assert.Equal(0, stored); // the token stays in memory

        // root edits: grant a prefix permission to the role.
        await page.SelectOptionAsync("#p-role", "app");
        await page.SelectOptionAsync("#p-type", "READWRITE");
        await page.FillAsync("#p-key", "app/");
        await page.CheckAsync("#p-prefix");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant", Exact = true }).Last.ClickAsync();
        await Expect(page.Locator("#role-list")).ToContainTextAsync("READWRITE every key under app/");
        await BrowserFixture.ScreenshotAsync(page, "auth-on");

        await page.Locator("#nav a[data-page='watch']").ClickAsync();
        await page.FillAsync("#watch-prefix", "secure/");
        await page.ClickAsync("#watch-toggle");
        await Expect(page.Locator("#watch-status")).ToContainTextAsync("Live");
        using (var put = new HttpRequestMessage(HttpMethod.Put, "/api/v1/keys/secure%2Fk") { Content = new StringContent("signed") })
        {
            put.Headers.TryAddWithoutValidation("Authorization", token);
            using var answer = await fixture.Http.SendAsync(put);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }
        await Expect(page.Locator("#watch-rows")).ToContainTextAsync("signed");

        await page.Locator("#nav a[data-page='keys']").ClickAsync();
        await page.FillAsync("#keys-prefix", "secure/");
        await page.Keyboard.PressAsync("Enter");
        await page.ClickAsync("[data-key='secure/k']");
        await Expect(page.Locator("#value-view")).ToHaveTextAsync("signed");
        BrowserFixture.AssertClean(problems);
        await page.Context.CloseAsync();
    }
}
