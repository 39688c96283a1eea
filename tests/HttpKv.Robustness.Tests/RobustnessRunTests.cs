using System.Globalization;

namespace HttpKv.Robustness.Tests;

/// <summary>The short robustness run CI makes: one seed (every fault kind once at least) of a 3-member cluster under kill -9, leader kill,
/// SIGSTOP, failpoint crashes, partitions, one-way cuts and slow links, each history checked. HTTPKV_ROBUSTNESS_SEEDS raises the count locally; a long run is
/// `dotnet run -c Release --project tests/HttpKv.Robustness -- --seeds 20 --duration 5m` (docs/ROBUSTNESS.md).</summary>
public sealed class RobustnessRunTests
{
    public static TheoryData<int> Seeds()
    {
        var count = int.TryParse(Environment.GetEnvironmentVariable("HTTPKV_ROBUSTNESS_SEEDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 1;
        var seeds = new TheoryData<int>();
        for (var seed = 1; seed <= count; seed++) seeds.Add(seed);
        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task A_cluster_under_faults_keeps_a_linearizable_history_and_whole_watches(int seed)
    {
        var options = new RunOptions(seed, TimeSpan.FromSeconds(12));
        using var log = new StringWriter();
        var report = await Runner.RunAsync(options, log);
        Assert.True(report.Passed, $"seed {seed} failed ({report.SavedTo}); replay: {options.ReplayCommand}\n{string.Join('\n', report.Problems)}\nfaults:\n{string.Join('\n', report.Faults)}");
        Assert.True(report.Faults.Count >= 8, $"only {report.Faults.Count} faults were injected");
        Assert.True(report.Compactions > 0, "the run compacted nothing");
        Assert.True(report.Operations - report.Unknown > 100, $"only {report.Operations - report.Unknown} operations completed");
        Assert.True(report.Leases > 10, $"only {report.Leases} leases were granted");
        Assert.True(report.RangesJudged > 20, $"only {report.RangesJudged} of {report.Ranges} prefix ranges could be judged");
        Assert.True(report.ProgressNotifications > 0, "no progress notification came");
    }
}
