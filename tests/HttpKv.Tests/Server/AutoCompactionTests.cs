using HttpKv.Server.Compaction;
using HttpKv.Tests.Api;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Server;

public sealed class AutoCompactionTests
{
    [Theory]
    [InlineData("periodic", "0", 0, 0)]
    [InlineData("periodic", "1", 3600, 0)]
    [InlineData("periodic", "30m", 1800, 0)]
    [InlineData("periodic", "1h30m", 5400, 0)]
    [InlineData("periodic", "1.5s", 1.5, 0)]
    [InlineData("revision", "1000", 0, 1000)]
    [InlineData("revision", "0", 0, 0)]
    public void Retention_is_parsed_as_etcd_reads_it(string mode, string retention, double seconds, long revisions)
    {
        var policy = AutoCompactionPolicy.Parse(mode, retention);
        Assert.Equal(TimeSpan.FromSeconds(seconds), policy.Period);
        Assert.Equal(revisions, policy.Revisions);
        Assert.Equal(seconds > 0 || revisions > 0, policy.Enabled);
    }

    [Theory]
    [InlineData("periodic", "soon")]
    [InlineData("periodic", "-1h")]
    [InlineData("revision", "1h")]
    [InlineData("weekly", "1")]
    public void Bad_settings_are_refused(string mode, string retention) =>
        Assert.Throws<ArgumentException>(() => AutoCompactionPolicy.Parse(mode, retention));

    [Fact]
    public void Periodic_schedule_compacts_to_the_newest_revision_at_least_one_period_old()
    {
        var schedule = new PeriodicCompactionSchedule(TimeSpan.FromMinutes(10));
        var start = DateTimeOffset.UnixEpoch;
        Assert.Equal(TimeSpan.FromMinutes(1), schedule.SampleInterval);
        Assert.Null(schedule.Observe(start, 5));
        Assert.Null(schedule.Observe(start.AddMinutes(5), 50));
        Assert.Null(schedule.Observe(start.AddMinutes(9), 90));
        Assert.Equal(5, schedule.Observe(start.AddMinutes(10), 100));
        Assert.Equal(50, schedule.Observe(start.AddMinutes(16), 160));
        Assert.Equal(160, schedule.Observe(start.AddMinutes(40), 400));
    }

    [Fact]
    public async Task A_member_with_periodic_retention_compacts_its_old_history()
    {
        await using var factory = new HttpKvFactory(new Dictionary<string, string>
        {
            ["HttpKv:AutoCompactionMode"] = "periodic",
            ["HttpKv:AutoCompactionRetention"] = "1s",
        });
        var client = factory.CreateClient();
        await client.PostOkAsync("/v3/kv/put", new { key = B64("k"), value = B64("old") });
        await client.PostOkAsync("/v3/kv/put", new { key = B64("k"), value = B64("new") });

        var deadline = DateTime.UtcNow.AddSeconds(60);
        int status;
        do
        {
            await Task.Delay(200);
            await client.PostOkAsync("/v3/kv/put", new { key = B64("tick"), value = B64("x") });
            (status, _) = await client.PostAsync("/v3/kv/range", """{"key":"aw==","revision":"2"}""");
        } while (status == 200 && DateTime.UtcNow < deadline);

        Assert.Equal(400, status); // revision 2 has been compacted away
        var latest = await client.PostOkAsync("/v3/kv/range", new { key = B64("k") });
        Assert.Equal("new", Text(latest["kvs"]![0]!["value"]));
    }
}
