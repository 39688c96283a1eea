using System.Globalization;
using HttpKv.Robustness;

// httpkv-robustness: real clusters under faults, every history checked. See docs/ROBUSTNESS.md.
//   --seeds N (default 3) runs seeds 1..N; --seed S runs one; --duration 20s per run; --members 3; --clients 8;
//   --learner adds a learner to the cluster at the start; --faults-from K starts the turns at fault kind K (0-based, in
//   Runner's order) and --min-faults N makes a run inject at least N faults (default: one of each kind).
var seeds = Enumerable.Range(1, 3).ToList();
var duration = TimeSpan.FromSeconds(20);
var members = 3;
var clients = 8;
var learner = false;
int? faultsFrom = null, minFaults = null;
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--seeds": seeds = Enumerable.Range(1, int.Parse(Value(), CultureInfo.InvariantCulture)).ToList(); break;
        case "--seed": seeds = [int.Parse(Value(), CultureInfo.InvariantCulture)]; break;
        case "--duration": duration = ParseDuration(Value()); break;
        case "--members": members = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--clients": clients = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--learner": learner = true; break;
        case "--faults-from": faultsFrom = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--min-faults": minFaults = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        default:
            await Console.Error.WriteLineAsync($"unknown argument {args[i]}; use --seeds N | --seed S, --duration 20s|5m, --members N, --clients N, --learner, --faults-from K, --min-faults N");
            return 2;
    }
}

var failed = 0;
var operations = 0;
var faults = 0;
var violations = 0;
var undecided = 0;
foreach (var seed in seeds)
{
    var options = new RunOptions(seed, duration, members, clients, Learner: learner, FaultsFrom: faultsFrom, MinFaults: minFaults);
    Console.WriteLine($"run seed {seed}: {members} members{(learner ? " and a learner" : "")}, {clients} clients, {duration.TotalSeconds:0}s");
    var report = await Runner.RunAsync(options, Console.Out);
    operations += report.Operations;
    faults += report.Faults.Count;
    violations += report.Problems.Count;
    if (report.Linearizability == HttpKv.Robustness.Checking.Verdict.Unknown) undecided++;
    Console.WriteLine($"  {report.Operations} operations ({report.Unknown} unknown), {report.Faults.Count} faults, {report.Compactions} compactions, {report.Defragmentations} defragmentations " +
        $"({report.WatchResyncs} watch resyncs), {report.Leases} leases, {report.Ranges} prefix ranges ({report.RangesJudged} judged), " +
        $"{report.ProgressNotifications} progress notifications, linearizability: {report.Linearizability}, " +
        (report.Passed ? "passed" : "FAILED"));
    if (report.Passed) continue;
    failed++;
    foreach (var problem in report.Problems) Console.WriteLine("  " + problem);
    Console.WriteLine($"  history, logs and data kept in {report.SavedTo}");
    Console.WriteLine($"  replay: {options.ReplayCommand}");
}
Console.WriteLine($"{seeds.Count} runs, {operations} operations, {faults} faults injected, {seeds.Count} histories checked " +
    $"({undecided} undecided by the linearizability checker's time limit), {violations} violations found in {failed} runs");
return failed == 0 ? 0 : 1;

static TimeSpan ParseDuration(string text) =>
    text.EndsWith('m') ? TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture))
    : text.EndsWith('s') ? TimeSpan.FromSeconds(double.Parse(text[..^1], CultureInfo.InvariantCulture))
    : TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture));
