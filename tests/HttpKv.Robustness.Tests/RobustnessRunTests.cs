using System.Globalization;

namespace HttpKv.Robustness.Tests;

/// <summary>The short robustness runs CI makes on a 3-member cluster with a learner, each history checked: two fixed seeds that between them
/// take every fault kind at least once (kill -9, leader kill, SIGSTOP, failpoint crashes, partitions of a member and of the leader, one-way cuts,
/// slow links, the learner's promotion, a member replaced by a new one, an interrupted catch-up by snapshot), split so each run stays near 90 s
/// on 2 cores. HTTPKV_ROBUSTNESS_SEEDS=N runs seeds 1..N instead, each through every kind; a long run is
/// `dotnet run -c Release --project tests/HttpKv.Robustness -- --seeds 20 --duration 5m --learner` (docs/ROBUSTNESS.md).</summary>
public sealed class RobustnessRunTests
{
    /// <summary>(seed, first fault kind, faults at least): kinds 7, 8, 9, 10, 0 then 1 to 6 — all eleven, the ones that restart
    /// members shared out.</summary>
    public static TheoryData<int, int?, int?> Runs()
    {
        var runs = new TheoryData<int, int?, int?>();
        if (int.TryParse(Environment.GetEnvironmentVariable("HTTPKV_ROBUSTNESS_SEEDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            for (var seed = 1; seed <= count; seed++) runs.Add(seed, null, null);
            return runs;
        }
        runs.Add(1, 7, 5);
        runs.Add(2, 1, 6);
        return runs;
    }

    [Fact]
    public void The_CI_runs_cover_every_fault_kind()
    {
        var covered = Runs().Select(run => ((int)run[0], (int?)run[1], (int?)run[2]))
            .SelectMany(run => run.Item2 is { } from ? Enumerable.Range(from, run.Item3!.Value).Select(kind => kind % Runner.FaultKinds) : Enumerable.Range(0, Runner.FaultKinds))
            .ToHashSet();
        Assert.Equal(Runner.FaultKinds, covered.Count);
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task A_cluster_under_faults_keeps_a_linearizable_history_and_whole_watches(int seed, int? faultsFrom, int? minFaults)
    {
        var options = new RunOptions(seed, TimeSpan.FromSeconds(12), Learner: true, FaultsFrom: faultsFrom, MinFaults: minFaults);
        using var log = new StringWriter();
        var report = await Runner.RunAsync(options, log);
        Assert.True(report.Passed, $"seed {seed} failed ({report.SavedTo}); replay: {options.ReplayCommand}\n{string.Join('\n', report.Problems)}\nfaults:\n{string.Join('\n', report.Faults)}");
        Assert.True(report.Faults.Count >= (minFaults ?? Runner.FaultKinds), $"only {report.Faults.Count} faults were injected");
        Assert.True(report.Compactions > 0, "the run compacted nothing");
        Assert.True(report.Defragmentations > 0, "no defragmentation completed");
        Assert.True(report.Operations - report.Unknown > 100, $"only {report.Operations - report.Unknown} operations completed");
        Assert.True(report.Leases > 10, $"only {report.Leases} leases were granted");
        Assert.True(report.RangesJudged > 20, $"only {report.RangesJudged} of {report.Ranges} prefix ranges could be judged");
        Assert.True(report.ProgressNotifications > 0, "no progress notification came");
    }
}
