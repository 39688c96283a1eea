using Microsoft.Playwright;

namespace HttpKv.Browser.Tests;

/// <summary>One Debian chromium (browsers cannot be downloaded here, so Playwright is pointed at /usr/bin/chromium)
/// and one httpkv process per test class. Every page a test opens fails the test on a script error or a request to
/// any host but the member.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    public static string Artifacts { get; } = Path.Combine(Paths.RepositoryRoot, "tests", "artifacts");

    private IPlaywright? playwright;
    public IBrowser Browser { get; private set; } = null!;
    public HttpKvServer Server { get; } = new();
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium)) throw new InvalidOperationException($"{Chromium} is missing: apt-get install -y chromium (test.sh does)");
        Directory.CreateDirectory(Artifacts);
        var server = Server.StartAsync();
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // A container has no user namespaces for chromium's sandbox; /dev/shm is small.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
        await server;
        Http = new HttpClient { BaseAddress = new Uri(Server.Url), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A fresh page on the member with generous waits (the machine is shared and busy) and a record of
    /// script errors and foreign requests, which <see cref="AssertClean"/> checks.</summary>
    public async Task<(IPage Page, List<string> Problems)> NewPageAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Server.Url, ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.PageError += (_, error) => { lock (problems) problems.Add($"script error: {error}"); };
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(Server.Url + "/", StringComparison.Ordinal) && !request.Url.StartsWith("data:", StringComparison.Ordinal))
                lock (problems) problems.Add($"request to another host: {request.Url}");
        };
        // Deletes and revokes ask first: say yes.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        return (page, problems);
    }

    public static void AssertClean(List<string> problems)
    {
        lock (problems) Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Artifacts, $"{name}.png"), FullPage = true });

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (Browser is not null) await Browser.DisposeAsync();
        playwright?.Dispose();
        await Server.DisposeAsync();
    }
}
