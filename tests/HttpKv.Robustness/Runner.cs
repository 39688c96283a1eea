using System.Diagnostics;
using System.Text;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Checking;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Faults;
using HttpKv.Robustness.Workload;

namespace HttpKv.Robustness;

/// <summary>The options of one run: the seed decides the workload's choices and the faults.</summary>
/// <param name="Learner">start with a learner beside the voters (added with MemberAdd isLearner, read serializably).</param>
/// <param name="SnapshotCount">--snapshot-count of the members: low, so followers that were away catch up by snapshot.</param>
/// <param name="SnapshotCatchUpEntries">--experimental-snapshot-catchup-entries: entries kept behind a snapshot.</param>
/// <param name="FaultsFrom">the fault kind the turns start from (null: the seed picks it).</param>
/// <param name="MinFaults">at least this many faults (null: one of each kind).</param>
public sealed record RunOptions(int Seed, TimeSpan Duration, int Members = 3, int Clients = 8, int Keys = 6,
    bool Learner = false, int SnapshotCount = 200, int SnapshotCatchUpEntries = 100, int? FaultsFrom = null, int? MinFaults = null)
{
    public string ReplayCommand =>
        $"dotnet run -c Release --project tests/HttpKv.Robustness -- --seed {Seed} --duration {Duration.TotalSeconds:0}s --members {Members} --clients {Clients}" +
        (Learner ? " --learner" : "") + (FaultsFrom is { } from ? $" --faults-from {from}" : "") + (MinFaults is { } min ? $" --min-faults {min}" : "");
}

/// <summary>What a run did and found.</summary>
public sealed record RunReport(RunOptions Options, int Operations, int Unknown, IReadOnlyList<string> Faults, Verdict Linearizability,
    IReadOnlyList<string> Problems, string? SavedTo, int Compactions = 0, int WatchResyncs = 0, int Ranges = 0, int RangesJudged = 0,
    int Leases = 0, int ProgressNotifications = 0, int Defragmentations = 0)
{
    public bool Passed => Linearizability != Verdict.NotLinearizable && Problems.Count == 0;
}

/// <summary>One robustness run: form a real cluster, drive concurrent clients (half on gRPC, half on the JSON
/// gateway) and watchers against it while
/// injecting the seed's faults (kill -9 of a member or of the leader, SIGSTOP pauses longer than an election
/// timeout, a crash at a failpoint of the write path, partitions of a member or of the leader, one-way cuts, slow
/// links), heal, then check the history: linearizable single-key operations, watch guarantees, and every
/// member's HashKV equal at a common revision. A failing run keeps its data dir, logs and history, and prints
/// the command that replays it.</summary>
public static class Runner
{
    private const string Prefix = "k/";
    /// <summary>How many kinds of fault a run takes turns through (see <see cref="RunOptions.FaultsFrom"/>).</summary>
    public static readonly int FaultKinds = Enum.GetValues<Fault>().Length;
    /// <summary>A run lasts its duration, but at least this many faults (one of each kind).</summary>
    private static readonly int MinFaults = FaultKinds;

    /// <summary>The failpoints a running member's writes pass (the snapshot ones need a lagging follower), and those of
    /// the defragmentation every member goes through every few seconds.</summary>
    private static readonly string[] CrashPoints =
        ["walBeforeWrite", "walBeforeSync", "walAfterSync", "raftBeforeApply", "backendBeforeCommit", "backendAfterCommit",
         "defragBeforeRename", "defragAfterRename"];

    public static async Task<RunReport> RunAsync(RunOptions options, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var random = new Random(options.Seed);
        var root = Directory.CreateTempSubdirectory($"httpkv-robustness-{options.Seed}-").FullName;
        var history = new History();
        var problems = new List<string>();
        var keys = Enumerable.Range(0, options.Keys).Select(i => $"{Prefix}{i}").ToList();
        var verdict = Verdict.Unknown;
        var rangesJudged = 0;
        await using (var cluster = new TestCluster(options.Members, root, options.SnapshotCount, options.SnapshotCatchUpEntries))
        {
            await cluster.StartAsync();
            if (options.Learner) await cluster.AddLearnerAsync();
            var endpoints = cluster.Voters.Select(member => member.ClientUrl).ToList(); // a learner refuses all but serializable reads
            var names = cluster.Voters.Select(member => member.Name).ToList();
            var learnerReader = new LearnerReader(cluster, new Random(random.Next()));
            using var stop = new CancellationTokenSource();
            var clients = Enumerable.Range(0, options.Clients).Select(i => new KvClient(i, endpoints, http: i % 2 == 1, history, new Random(random.Next()))).ToList();
            var watches = cluster.Voters.Select((member, i) => new WatchLog(i, member.Name, 1)).ToList();
            foreach (var watch in watches) history.Watches.Add(watch);
            var running = clients.Select(client => client.RunAsync(keys, stop.Token))
                .Concat(watches.Select((watch, i) => new Watcher(watch, endpoints, names, i, () => history.Now).RunAsync(Prefix, stop.Token)))
                .Append(CompactAsync(endpoints, history, stop.Token)).Append(DefragmentAsync(endpoints, history, stop.Token))
                .Append(learnerReader.RunAsync(keys, stop.Token)).ToList();
            var faults = InjectFaultsAsync(cluster, history, problems, new Random(random.Next()), options, log);
            try
            {
                await faults;
                await cluster.HealAsync();
            }
            catch (InvalidOperationException exception) // a member that does not come back is a finding, not a harness crash
            {
                problems.Add("a member did not come back: " + exception.Message.Split('\n')[0]);
                try
                {
                    await cluster.HealAsync();
                }
                catch (InvalidOperationException again)
                {
                    problems.Add("and not on a second try either: " + again.Message.Split('\n')[0]);
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(2)); // let clients and watchers catch up on a healthy cluster
            await stop.CancelAsync();
            await Task.WhenAll(running.Select(task => task.ContinueWith(_ => { }, TaskScheduler.Default)));
            foreach (var client in clients) client.Dispose();

            problems.AddRange(await cluster.CompareHashesAsync());
            problems.AddRange(learnerReader.Problems);
            if (learnerReader.Reads > 0)
                history.Faults.Enqueue($"learner reads: {learnerReader.Reads} serializable ({learnerReader.Verified} compared with a voter), {learnerReader.Refusals} linearizable refused");
            var operations = HistoryPatcher.Patch(history.Operations, [.. history.Watches], out var patched);
            await log.WriteLineAsync($"  unknown writes: {patched.Resolved} seen by the watchers (made known), {patched.Dropped} never applied (left out), {patched.Left} left unknown");
            var check = LinearizabilityChecker.Check(operations, TimeSpan.FromSeconds(60));
            verdict = check.Verdict;
            await log.WriteLineAsync($"  linearizability: {check.Verdict}; slowest partition {check.Slowest.Partition} ({check.Slowest.Operations} operations, " +
                $"{check.Slowest.Took.TotalSeconds:0.0}s){(check.Undecided.Count > 0 ? "; undecided in time: " + string.Join(", ", check.Undecided) : "")}");
            if (check.Verdict == Verdict.NotLinearizable) problems.Add(Timeline.Describe(check));
            problems.AddRange(WatchChecker.Check(history.Watches, operations));
            problems.AddRange(RangeChecker.Check(history.Watches, history.Ranges, operations, out rangesJudged));
            foreach (var watch in history.Watches.OrderBy(watch => watch.Id))
                await log.WriteLineAsync($"  watch {watch.Id}: {watch.Events.Count} events through revision {(watch.Events.Count > 0 ? watch.Events[^1].Revision : 0)}, " +
                    $"{watch.Reconnects} reconnects, {watch.CompactedGaps.Count} compacted gaps, {watch.Progress.Count} progress notifications" +
                    (watch.Errors.Count > 0 ? $"; {watch.Errors.Count} errors, first: {watch.Errors[0]}" : ""));
            await log.WriteLineAsync($"  prefix ranges: {history.Ranges.Count}, up to revision {history.Ranges.Select(read => read.Revision).DefaultIfEmpty(0).Max()}, {rangesJudged} judged");
            if (problems.Count > 0) await SaveAsync(root, cluster, history, problems, check);
        }
        var report = new RunReport(options, history.Operations.Count, history.Operations.Count(op => op.Unknown), [.. history.Faults], verdict, problems,
            problems.Count > 0 ? root : null, history.Compactions.Count, history.Watches.Sum(watch => watch.CompactedGaps.Count), history.Ranges.Count, rangesJudged,
            history.Operations.Count(op => op.Kind == OpKind.LeaseGrant), history.Watches.Sum(watch => watch.Progress.Count), history.Defragmentations.Count);
        if (problems.Count == 0) Directory.Delete(root, recursive: true);
        return report;
    }

    /// <summary>The faults a run injects, in the order they take turns.</summary>
    private enum Fault
    {
        Kill,
        KillLeader,
        Pause,
        CrashAtFailpoint,
        Isolate,
        IsolateLeader,
        CutOutgoing,
        SlowLinks,
        /// <summary>Promote the learner, or add one (<see cref="MembershipFaults.LearnerTurnAsync"/>).</summary>
        Learner,
        /// <summary>Remove a voter, wipe it, add it back as a new member (<see cref="MembershipFaults.ReplaceMemberAsync"/>).</summary>
        ReplaceMember,
        /// <summary>A follower catching up by snapshot is interrupted (<see cref="MembershipFaults.InterruptSnapshotAsync"/>).</summary>
        InterruptSnapshot,
    }

    private static async Task InjectFaultsAsync(TestCluster cluster, History history, List<string> problems, Random random, RunOptions options, TextWriter log)
    {
        var duration = options.Duration;
        var watch = Stopwatch.StartNew();
        var snapshotTurns = random.Next(3);
        void Note(string fault)
        {
            history.Faults.Enqueue($"{history.Now / 1000} ms: {fault}");
            log.WriteLine($"  fault: {fault}");
        }
        var kinds = random.Next(FaultKinds); // the kinds take turns, from one the seed picks: every run sees each at least once
        if (options.FaultsFrom is { } from) kinds = from;
        var minFaults = options.MinFaults ?? MinFaults;
        for (var injected = 0; watch.Elapsed < duration || injected < minFaults; injected++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1000, 2500)));
            var kind = (Fault)(kinds++ % FaultKinds);
            var member = cluster.Members[random.Next(cluster.Members.Count)];
            if (kind is Fault.KillLeader or Fault.IsolateLeader) member = await LeaderAsync(cluster) ?? member;
            await InjectAsync(kind, member);
            // Healed: every voter must hash its history the same now, before a later fault (a member wiped and
            // replaced) can erase the evidence of what this one did to a member's data.
            var fault = history.Faults.LastOrDefault();
            problems.AddRange((await cluster.CompareHashesAsync()).Select(problem => $"after \"{fault}\": {problem}"));
        }

        async Task InjectAsync(Fault kind, MemberProcess member)
        {
            if (kind == Fault.CrashAtFailpoint)
            {
                await CrashAtFailpointAsync(member, history, random, log);
                return;
            }
            if (kind == Fault.Learner)
            {
                await MembershipFaults.LearnerTurnAsync(cluster, random, Note);
                return;
            }
            if (kind == Fault.ReplaceMember)
            {
                await MembershipFaults.ReplaceMemberAsync(cluster, random, Note);
                return;
            }
            if (kind == Fault.InterruptSnapshot)
            {
                var how = (SnapshotInterruption)(snapshotTurns++ % Enum.GetValues<SnapshotInterruption>().Length);
                var lag = (cluster.SnapshotCount + cluster.SnapshotCatchUpEntries) * 3 / 2;
                var (_, found) = await MembershipFaults.InterruptSnapshotAsync(cluster, how, lag, random, Note);
                problems.AddRange(found);
                return;
            }
            var outage = TimeSpan.FromMilliseconds(random.Next(1500, 3000));
            var others = cluster.Members.Where(other => other != member).Select(other => other.Name).ToList();
            var delay = TimeSpan.FromMilliseconds(random.Next(100, 400));
            var fault = kind switch
            {
                Fault.Kill => $"kill -9 {member.Name}",
                Fault.KillLeader => $"kill -9 the leader {member.Name}",
                Fault.Pause => $"SIGSTOP {member.Name}",
                Fault.Isolate => $"partition {member.Name} from the others",
                Fault.IsolateLeader => $"partition the leader {member.Name} from the others",
                Fault.CutOutgoing => $"cut {member.Name}'s links to the others, one way",
                _ => $"delay {member.Name}'s links both ways by {delay.TotalMilliseconds:0} ms",
            } + $" for {outage.TotalSeconds:0.0}s";
            history.Faults.Enqueue($"{history.Now / 1000} ms: {fault}");
            await log.WriteLineAsync($"  fault: {fault}");
            switch (kind)
            {
                case Fault.Kill or Fault.KillLeader: await member.KillAsync(); break;
                case Fault.Pause: await member.PauseAsync(); break;
                case Fault.Isolate or Fault.IsolateLeader:
                    foreach (var other in others)
                    {
                        cluster.Network.Cut(member.Name, other);
                        cluster.Network.Cut(other, member.Name);
                    }
                    break;
                case Fault.CutOutgoing:
                    foreach (var other in others) cluster.Network.Cut(member.Name, other);
                    break;
                default:
                    foreach (var other in others)
                    {
                        cluster.Network.Delay(member.Name, other, delay);
                        cluster.Network.Delay(other, member.Name, delay);
                    }
                    break;
            }
            await Task.Delay(outage);
            switch (kind)
            {
                case Fault.Kill or Fault.KillLeader: await member.StartAsync(); break;
                case Fault.Pause: await member.ResumeAsync(); break;
                default: cluster.Network.Heal(); break;
            }
        }
    }

    /// <summary>Restarts a member with a failpoint that crashes it a few writes later, as a power cut at that point of
    /// the write path would; then starts it again as usual.</summary>
    private static async Task CrashAtFailpointAsync(MemberProcess victim, History history, Random random, TextWriter log)
    {
        var point = CrashPoints[random.Next(CrashPoints.Length)];
        // Writes pass their points many times a second; a member is defragmented every few seconds, so the first time.
        var failpoint = $"{point}=panic@{(point.StartsWith("defrag", StringComparison.Ordinal) ? 1 : random.Next(2, 40))}";
        var fault = $"{victim.Name} restarted with {failpoint}";
        history.Faults.Enqueue($"{history.Now / 1000} ms: {fault}");
        await log.WriteLineAsync($"  fault: {fault}");
        await victim.KillAsync();
        var crashed = await victim.RunUntilFailpointAsync(failpoint, TimeSpan.FromSeconds(8));
        history.Faults.Enqueue($"{history.Now / 1000} ms: {victim.Name} {(crashed ? "crashed at the failpoint" : "did not reach it in 8 s; killed")}");
        await victim.KillAsync();
        await victim.StartAsync();
    }

    /// <summary>Compacts the history every second or so, keeping the last 50 revisions, as an operator's
    /// auto-compaction would: watchers that fall behind meet compacted revisions when they resume.</summary>
    private static async Task CompactAsync(IReadOnlyList<string> endpoints, History history, CancellationToken stop)
    {
        long compacted = 0;
        var endpoint = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1200), stop);
                using var channel = GrpcChannel.ForAddress(endpoints[endpoint]);
                var kv = new KV.KVClient(channel);
                var revision = (await kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(Prefix) },
                    deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop)).Header.Revision;
                if (revision - 50 <= compacted) continue;
                await kv.CompactAsync(new CompactionRequest { Revision = revision - 50 }, deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
                compacted = revision - 50;
                history.Compactions.Enqueue(compacted);
            }
            catch (RpcException)
            {
                endpoint = (endpoint + 1) % endpoints.Count; // down, or already compacted past it: try elsewhere later
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Defragments one member after another every two seconds or so, while the clients write and the faults
    /// strike: a write lost or doubled by the copy, the replay or the swap shows up in the checks (histories, watches,
    /// hashes) like any other.</summary>
    private static async Task DefragmentAsync(IReadOnlyList<string> endpoints, History history, CancellationToken stop)
    {
        var endpoint = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2000), stop);
                using var channel = GrpcChannel.ForAddress(endpoints[endpoint]);
                await new Maintenance.MaintenanceClient(channel).DefragmentAsync(new DefragmentRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop);
                history.Defragmentations.Enqueue(endpoints[endpoint]);
            }
            catch (RpcException)
            {
                // the member is down or stopping: the next one's turn
            }
            catch (OperationCanceledException)
            {
                return;
            }
            endpoint = (endpoint + 1) % endpoints.Count;
        }
    }

    private static Task<MemberProcess?> LeaderAsync(TestCluster cluster) => cluster.LeaderAsync();

    private static async Task SaveAsync(string root, TestCluster cluster, History history, IReadOnlyList<string> problems, CheckResult check)
    {
        if (check.Verdict == Verdict.NotLinearizable) await File.WriteAllTextAsync(Path.Combine(root, "timeline.html"), Timeline.Html(check, history.Faults));
        var text = new StringBuilder();
        text.AppendLine("problems:").AppendJoin('\n', problems).AppendLine().AppendLine("faults:").AppendJoin('\n', history.Faults).AppendLine();
        text.AppendLine("compactions: " + string.Join(", ", history.Compactions));
        text.AppendLine("operations (call order):").AppendJoin('\n', history.Operations).AppendLine();
        text.AppendLine("prefix ranges (call order):").AppendJoin('\n', history.Ranges.OrderBy(read => read.Call)).AppendLine();
        foreach (var watch in history.Watches)
        {
            var lines = watch.Events.Select((e, i) => (2 * i + 1, $"  @{e.Revision} {(e.IsDelete ? "delete" : "put")} {e.Key} {e.Value} (response {e.Response}, prev {e.PrevValue ?? "-"}@{e.PrevModRevision})"))
                .Concat(watch.Progress.Select(p => (2 * p.AfterEvents, $"  progress notification @{p.Revision}")))
                .Concat(watch.Resumes.Select(r => (2 * r.AfterEvents, $"  resumed at {r.Revision}")))
                .OrderBy(line => line.Item1).Select(line => line.Item2);
            text.AppendLine($"watch {watch.Id} on {watch.Member} from {watch.StartRevision}, {watch.Reconnects} reconnects, gaps {string.Join(", ", watch.CompactedGaps)}:")
                .AppendJoin('\n', lines).AppendLine();
        }
        await File.WriteAllTextAsync(Path.Combine(root, "history.txt"), text.ToString());
        foreach (var member in cluster.Members) await File.WriteAllTextAsync(Path.Combine(root, member.Name + ".log"), member.Output);
    }
}
