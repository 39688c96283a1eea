using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace HttpKv.Compat.Tests;

/// <summary>An etcd operator's runbook, run with etcdctl 3.4 against etcd and HttpKv alike: fill the database past
/// <c>--quota-backend-bytes</c> (the recipe of etcd's maintenance guide: 1 MiB values into one key), see the NOSPACE
/// alarm, free space with compact + defrag, disarm, write again; endpoint status, health and hashkv on the way.</summary>
public sealed partial class MaintenanceCompatTests
{
    private static readonly string MiB = new('a', 1 << 20);

    [GeneratedRegex(@"^memberID:\d+ alarm:NOSPACE $", RegexOptions.Multiline)]
    private static partial Regex NoSpaceAlarm();

    private static async Task<JsonNode> StatusAsync(ServerProcess server)
    {
        var status = await Tool.EtcdctlAsync(server, null, "endpoint", "status", "-w", "json");
        Assert.True(status.ExitCode == 0, status.ToString());
        return JsonNode.Parse(status.Stdout)!.AsArray()[0]!["Status"]!;
    }

    [Theory]
    [InlineData("etcd")]
    [InlineData("httpkv")]
    public async Task The_space_quota_runbook_works_with_etcdctl(string kind)
    {
        await using var server = ServerProcess.Create(kind, "--quota-backend-bytes", (16 << 20).ToString());
        await server.StartAsync();

        Tool.Result? refused = null;
        for (var i = 0; i < 40 && refused is null; i++)
        {
            var put = await Tool.EtcdctlAsync(server, MiB, "put", "key");
            if (put.ExitCode != 0) refused = put;
        }
        Assert.NotNull(refused);
        Assert.Contains("Error: etcdserver: mvcc: database space exceeded", refused.Stderr);

        var alarms = await Tool.EtcdctlAsync(server, null, "alarm", "list");
        Assert.Matches(NoSpaceAlarm(), alarms.Stdout);
        var full = await StatusAsync(server);
        Assert.Matches(NoSpaceAlarm(), (string)full["errors"]![0]!);
        var fullSize = (long)full["dbSize"]!;
        Assert.True(fullSize > 15 << 20, $"db size {fullSize}");
        Assert.Contains("is healthy", (await Tool.EtcdctlAsync(server, null, "endpoint", "health")).Stderr); // as etcd 3.4: NOSPACE is not unhealthy
        Assert.Contains("database space exceeded", (await Tool.EtcdctlAsync(server, null, "put", "small", "1")).Stderr);

        // Deleting, compacting and defragmenting are allowed under the alarm: they are the way out.
        Assert.Equal("1", (await Tool.EtcdctlAsync(server, null, "del", "key")).Stdout.Trim());
        var revision = (long)(await StatusAsync(server))["header"]!["revision"]!;
        Assert.Equal($"compacted revision {revision}", (await Tool.EtcdctlAsync(server, null, "compact", revision.ToString())).Stdout.Trim());
        var defrag = await Tool.EtcdctlAsync(server, null, "defrag");
        Assert.Equal($"Finished defragmenting etcd member[{server.Endpoint}]", defrag.Stdout.Trim());
        var freed = await StatusAsync(server);
        Assert.True((long)freed["dbSize"]! < 1 << 20, $"db size after defrag {(long)freed["dbSize"]!}");
        Assert.True((long)freed["dbSizeInUse"]! <= (long)freed["dbSize"]!);
        Assert.Contains("database space exceeded", (await Tool.EtcdctlAsync(server, null, "put", "small", "1")).Stderr); // until disarmed

        var disarmed = await Tool.EtcdctlAsync(server, null, "alarm", "disarm");
        Assert.Matches(NoSpaceAlarm(), disarmed.Stdout);
        Assert.Equal("", (await Tool.EtcdctlAsync(server, null, "alarm", "list")).Stdout);
        Assert.Null((await StatusAsync(server))["errors"]);
        Assert.Equal("OK", (await Tool.EtcdctlAsync(server, null, "put", "small", "1")).Stdout.Trim());

        var hash = await Tool.EtcdctlAsync(server, null, "endpoint", "hashkv", "-w", "json");
        Assert.True(hash.ExitCode == 0, hash.ToString());
        Assert.NotEqual(0, (long)JsonNode.Parse(hash.Stdout)!.AsArray()[0]!["HashKV"]!["hash"]!);
    }

    /// <summary>An alarm is part of the replicated state: it survives a restart of the member.</summary>
    [Fact]
    public async Task An_alarm_survives_a_restart()
    {
        await using var server = ServerProcess.HttpKv("--quota-backend-bytes", (8 << 20).ToString());
        await server.StartAsync();
        for (var i = 0; i < 30; i++)
        {
            if ((await Tool.EtcdctlAsync(server, MiB, "put", "key")).ExitCode != 0) break;
        }
        Assert.Matches(NoSpaceAlarm(), (await Tool.EtcdctlAsync(server, null, "alarm", "list")).Stdout);
        await server.TerminateAsync();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await server.StartAsync();
        Assert.Matches(NoSpaceAlarm(), (await Tool.EtcdctlAsync(server, null, "alarm", "list")).Stdout);
        Assert.Contains("database space exceeded", (await Tool.EtcdctlAsync(server, null, "put", "small", "1")).Stderr);
    }
}
