using System.Net;
using System.Text.Json.Nodes;
using Etcdserverpb;
using HttpKv.Api.Health;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Tests.Api;

/// <summary>/health, /livez and /readyz answer as etcd 3.5's: the JSON and texts, the status codes, and what each one
/// counts (alarms, the leader, reads), with ?serializable, ?exclude and ?verbose.</summary>
public sealed class HealthTests : IAsyncLifetime
{
    /// <summary>Alarms set by the test: the member's alarm store is replaced, not the checks.</summary>
    private sealed class SetAlarms : IActiveAlarms
    {
        public IReadOnlyList<AlarmMember> Active { get; set; } = [];
    }

    private readonly HttpKvFactory factory = new();
    private readonly SetAlarms alarms = new();
    private WebApplicationFactory<Program> member = null!;
    private HttpClient client = null!;

    public Task InitializeAsync()
    {
        member = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddSingleton<IActiveAlarms>(alarms)));
        client = member.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await member.DisposeAsync();
        await factory.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using var response = await client.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static AlarmMember Alarm(AlarmType type) => new() { MemberID = 1, Alarm = type };

    [Fact]
    public async Task A_healthy_member_answers_etcds_json_and_ok()
    {
        foreach (var path in new[] { "/health", "/health?serializable=true" })
        {
            var (status, body) = await GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"health":"true","reason":""}"""), JsonNode.Parse(body)), body);
        }
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/livez"));
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/readyz"));
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/readyz/linearizable_read"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/readyz/no_such_check")).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.PostAsync("/health", null)).StatusCode);
    }

    [Fact]
    public async Task Verbose_lists_every_check_as_kubernetes_does()
    {
        Assert.Equal((HttpStatusCode.OK, "[+]serializable_read ok\nlivez check passed\n"), await GetAsync("/livez?verbose"));
        Assert.Equal((HttpStatusCode.OK, "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\nreadyz check passed\n"),
            await GetAsync("/readyz?verbose"));
        Assert.Equal((HttpStatusCode.OK,
                "[+]data_corruption ok\n[+]serializable_read excluded: ok\n[+]linearizable_read ok\n" +
                "warn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"),
            await GetAsync("/readyz?verbose&exclude=serializable_read&exclude=nope"));
    }

    [Fact]
    public async Task Nospace_fails_health_unless_excluded_and_leaves_the_member_live_and_ready()
    {
        alarms.Active = [Alarm(AlarmType.Nospace)];
        var (status, body) = await GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"health":"false","reason":"ALARM NOSPACE"}"""), JsonNode.Parse(body)), body);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/health?exclude=NOSPACE")).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync("/health?exclude=CORRUPT")).Status);
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/livez"));
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/readyz"));
    }

    [Fact]
    public async Task Corrupt_fails_health_and_readyz_but_not_livez()
    {
        alarms.Active = [Alarm(AlarmType.Corrupt)];
        var (status, body) = await GetAsync("/health?serializable=true");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("ALARM CORRUPT", (string)JsonNode.Parse(body)!["reason"]!);
        Assert.Equal((HttpStatusCode.ServiceUnavailable,
                "[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n[+]linearizable_read ok\nreadyz check failed\n"),
            await GetAsync("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync("/readyz/data_corruption")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/readyz?exclude=data_corruption")).Status);
        Assert.Equal((HttpStatusCode.OK, "ok"), await GetAsync("/livez"));
    }

    [Fact]
    public async Task A_member_without_a_leader_is_unhealthy()
    {
        // Two founding members, the other never started: no quorum, so no leader ever.
        await using var alone = new HttpKvFactory(new Dictionary<string, string>
        {
            ["HttpKv:Name"] = "a",
            ["HttpKv:InitialCluster"] = "a=http://127.0.0.1:1,b=http://127.0.0.1:2",
            ["HttpKv:InitialAdvertisePeerUrls"] = "http://127.0.0.1:1",
            ["HttpKv:ListenPeerUrls"] = "http://127.0.0.1:1",
        });
        using var response = await alone.CreateClient().GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"health":"false","reason":"RAFT NO LEADER"}"""),
            JsonNode.Parse(await response.Content.ReadAsStringAsync())));
    }
}

/// <summary>The same checks against the member's own replicated alarms, raised and disarmed through the Alarm API.</summary>
public sealed class HealthAlarmTests : MemberTest
{
    private async Task AlarmAsync(string action, string alarm)
    {
        var status = JsonNode.Parse(await (await Client.PostAsync("/v3/maintenance/status", new StringContent("{}"))).Content.ReadAsStringAsync())!;
        var memberId = (string)status["header"]!["member_id"]!;
        using var response = await Client.PostAsync("/v3/maintenance/alarm",
            new StringContent($$"""{"action":"{{action}}","memberID":"{{memberId}}","alarm":"{{alarm}}"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_raised_corrupt_alarm_fails_health_and_readyz_until_disarmed()
    {
        await AlarmAsync("ACTIVATE", "CORRUPT");
        using (var health = await Client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("ALARM CORRUPT", (string)JsonNode.Parse(await health.Content.ReadAsStringAsync())!["reason"]!);
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/livez")).StatusCode);
        await AlarmAsync("DEACTIVATE", "CORRUPT");
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/readyz")).StatusCode);
    }
}
