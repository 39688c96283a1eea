using System.Diagnostics;

namespace HttpKv.Raft.Tests;

/// <summary>Runs the deterministic simulation over a range of seeds (see <see cref="Simulation"/>).
/// HTTPKV_RAFT_SEEDS sets how many seeds (default 3000), HTTPKV_RAFT_SEED replays one seed with a full trace.</summary>
public class SimulationTests
{
    private const int DefaultSeeds = 3000;

    [Fact]
    public void Simulation_SeedRange_InvariantsHoldAndClusterRecovers()
    {
        var single = Environment.GetEnvironmentVariable("HTTPKV_RAFT_SEED");
        if (!string.IsNullOrEmpty(single))
        {
            var seed = int.Parse(single, System.Globalization.CultureInfo.InvariantCulture);
            RunOrFail(seed, trace: true);
            return;
        }
        var countText = Environment.GetEnvironmentVariable("HTTPKV_RAFT_SEEDS");
        var count = string.IsNullOrEmpty(countText) ? DefaultSeeds : int.Parse(countText, System.Globalization.CultureInfo.InvariantCulture);
        var totals = new Simulation.SimulationStats();
        var failures = new System.Collections.Concurrent.ConcurrentBag<(int Seed, string Error)>();
        var stopwatch = Stopwatch.StartNew();
        Parallel.For(1, count + 1, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, seed =>
        {
            var error = Run(seed, trace: false, totals);
            if (error is not null) failures.Add((seed, error));
        });
        if (!failures.IsEmpty)
        {
            var first = failures.OrderBy(f => f.Seed).First();
            Assert.Fail($"{failures.Count} of {count} seeds failed; first: {first.Error}");
        }
        Console.WriteLine($"raft simulation: {count} seeds passed in {stopwatch.Elapsed.TotalSeconds:F1} s: {totals}");
    }

    [Fact]
    public void Simulation_SameSeedReplaysTheSameRun()
    {
        var first = new Simulation(42, trace: true);
        first.Run();
        var second = new Simulation(42, trace: true);
        second.Run();
        Assert.Equal(first.Trace, second.Trace);
    }

    private static void RunOrFail(int seed, bool trace)
    {
        var error = Run(seed, trace);
        if (error is not null) Assert.Fail(error);
    }

    /// <summary>Returns null when the seed passes, else a message naming the seed and how to replay it.</summary>
    private static string? Run(int seed, bool trace, Simulation.SimulationStats? totals = null)
    {
        var simulation = new Simulation(seed, trace);
        try
        {
            simulation.Run();
            if (totals is not null) simulation.Stats.AddTo(totals);
            return null;
        }
        catch (Exception exception)
        {
            var traceFile = Environment.GetEnvironmentVariable("HTTPKV_RAFT_TRACE_FILE");
            if (trace && !string.IsNullOrEmpty(traceFile)) File.WriteAllLines(traceFile, simulation.Trace);
            var tail = trace ? "\ntrace (last 300 events):\n" + string.Join("\n", simulation.Trace.TakeLast(300)) : "";
            return $"seed {seed} ({simulation.NodeCount} nodes) failed at step {simulation.StepNumber}: {exception}\n" +
                $"replay: HTTPKV_RAFT_SEED={seed} dotnet test tests/HttpKv.Raft.Tests --filter Simulation{tail}";
        }
    }
}
