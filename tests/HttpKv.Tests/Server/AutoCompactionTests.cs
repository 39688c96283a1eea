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

    /// <summary>Over (simulated) hours, both modes keep compacting as writes go on: revision mode every five minutes to
    /// the newest revision minus the retention, periodic mode to what was current one retention period ago.</summary>
    [Theory]
    [InlineData("revision", "10", 300)]
    [InlineData("periodic", "1h", 360)]
    public async Task Auto_compaction_keeps_up_with_writes_over_time(string mode, string retention, int stepSeconds)
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = new HttpKvFactory(new Dictionary<string, string>
        {
            ["HttpKv:AutoCompactionMode"] = mode,
            ["HttpKv:AutoCompactionRetention"] = retention,
        }).WithTime(time);
        var client = factory.CreateClient();
        var compactions = new List<long>();
        long revision = 1;
        for (var hour = 0; hour < 4; hour++)
        {
            for (var step = 0; step < 3600 / stepSeconds; step++)
            {
                for (var i = 0; i < 5; i++)
                {
                    var put = await client.PostOkAsync("/v3/kv/put", new { key = B64($"k{i}"), value = B64($"{hour}.{step}") });
                    revision = long.Parse((string)put["header"]!["revision"]!);
                }
                time.Advance(TimeSpan.FromSeconds(stepSeconds));
                var compacted = await CompactedRevisionAsync(client, previous: compactions.LastOrDefault());
                if (compacted > compactions.LastOrDefault()) compactions.Add(compacted);
            }
        }
        // Every hour of writes moved the compaction point forward; it never passes what the retention keeps.
        Assert.True(compactions.Count >= 4, $"compactions at {string.Join(", ", compactions)}");
        Assert.True(compactions[^1] <= revision - (mode == "revision" ? 10 : 0), $"compacted {compactions[^1]}, current {revision}");
        Assert.True(compactions[^1] >= revision - (mode == "revision" ? 10 + 5 : 2 * 5 * 3600 / stepSeconds), $"compacted {compactions[^1]}, current {revision}");
    }

    /// <summary>The compacted revision (HashKV's compact_revision), waiting a little for a compaction the last time
    /// step may have started.</summary>
    private static async Task<long> CompactedRevisionAsync(HttpClient client, long previous)
    {
        long compacted = 0;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var hash = await client.PostOkAsync("/v3/maintenance/hashkv", new { });
            compacted = long.Parse((string?)hash["compact_revision"] ?? "0");
            if (compacted > previous) return compacted;
            await Task.Delay(25);
        }
        return compacted;
    }
}
