using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;

namespace HttpKv.Robustness.Faults;

/// <summary>How a snapshot catch-up is interrupted (<see cref="MembershipFaults.InterruptSnapshotAsync"/>).</summary>
public enum SnapshotInterruption
{
    /// <summary>The lagging follower restarts with snapshotBeforeInstall=panic: it receives the whole snapshot and
    /// dies before swapping its backend.</summary>
    FollowerCrashesBeforeInstall,
    /// <summary>The leader's link to the follower is slowed so the snapshot takes a while, and the follower is
    /// killed -9 while its incoming snapshot file is being written.</summary>
    FollowerKilledDuringTransfer,
    /// <summary>The leader, restarted with snapshotBeforeSend=panic and given the leadership back (MoveLeader), dies
    /// as it is about to stream the snapshot; the next leader sends it.</summary>
    LeaderCrashesBeforeSend,
}

/// <summary>The membership and snapshot faults of a run, each ending with the cluster whole again (every member
/// running, links healed): promoting a learner (or adding one), replacing a member by a new, empty one, and
/// interrupting a follower's catch-up by snapshot. <paramref name="note"/> records what happened.</summary>
public static class MembershipFaults
{
    /// <summary>The learner's turn: promote the learner once it has caught up (MemberPromote, retried while the
    /// leader says it is not in sync); with no learner, add one: a new member while there are fewer than 4 voters,
    /// otherwise a voter replaced by a learner, so a long run cycles 3 voters + learner → 4 voters → 3 + learner.</summary>
    public static async Task LearnerTurnAsync(TestCluster cluster, Random random, Action<string> note)
    {
        if (cluster.Learner is { } learner)
        {
            note($"promote the learner {learner.Name}");
            await cluster.PromoteAsync(learner, TimeSpan.FromSeconds(30));
            note($"{learner.Name} promoted to voter");
            return;
        }
        if (cluster.Voters.Count < 4)
        {
            note("add a learner");
            var added = await cluster.AddLearnerAsync();
            note($"learner {added.Name} ({added.Id:x16}) added, caught up and serving");
            return;
        }
        var leader = await cluster.LeaderAsync();
        var candidates = cluster.Voters.Where(member => member != leader).ToList();
        var victim = candidates[random.Next(candidates.Count)];
        note($"replace the voter {victim.Name} by a learner");
        var replacement = await cluster.ReplaceAsync(victim, asLearner: true);
        note($"learner {replacement.Name} ({replacement.Id:x16}) added, caught up and serving");
    }

    /// <summary>Member replacement: MemberRemove of a voter (the others keep quorum), its data dir wiped, MemberAdd of
    /// a new member (a new ID) on the same name and ports, started empty with --initial-cluster-state existing; it
    /// catches up from the leader's snapshot (HashKV is compared at the end).</summary>
    public static async Task ReplaceMemberAsync(TestCluster cluster, Random random, Action<string> note)
    {
        var voters = cluster.Voters;
        var victim = voters[random.Next(voters.Count)];
        note($"replace {victim.Name} ({victim.Id:x16}): remove, wipe, add as a new member");
        var replacement = await cluster.ReplaceAsync(victim);
        note($"{replacement.Name} is now {replacement.Id:x16}, caught up and serving");
    }

    /// <summary>A follower falls behind the leader's compacted log (it is killed while enough writes happen for a
    /// snapshot to compact past it), then its catch-up by snapshot is interrupted as <paramref name="how"/> says;
    /// afterwards every member runs normally again and must converge.</summary>
    /// <returns>whether the catch-up was interrupted as meant (timing may spoil it in a loaded run), and the
    /// problems seen (an unfinished snapshot file kept after a restart).</returns>
    public static async Task<(bool Interrupted, IReadOnlyList<string> Problems)> InterruptSnapshotAsync(TestCluster cluster, SnapshotInterruption how,
        int lagEntries, Random random, Action<string> note)
    {
        var interrupted = false;
        var problems = new List<string>();
        var leader = await WaitForLeaderAsync(cluster);
        if (how == SnapshotInterruption.LeaderCrashesBeforeSend)
        {
            note($"restart the leader {leader.Name} with snapshotBeforeSend=panic and give it the leadership back");
            await leader.KillAsync();
            await leader.StartAsync("snapshotBeforeSend=panic");
            if (!await MoveLeaderAsync(cluster, leader)) note($"{leader.Name} did not get the leadership back");
        }
        var followers = cluster.Voters.Where(member => member != leader).ToList();
        var follower = followers[random.Next(followers.Count)];
        note($"kill -9 {follower.Name}, {lagEntries} writes elsewhere so the leader compacts its log past it");
        await follower.KillAsync();
        await WriteFillerAsync(cluster, lagEntries);
        switch (how)
        {
            case SnapshotInterruption.FollowerCrashesBeforeInstall:
            {
                // as long as a start may take on a loaded machine: the snapshot comes once the member is up
                var crashed = await follower.RunUntilFailpointAsync("snapshotBeforeInstall=panic", TimeSpan.FromSeconds(90));
                interrupted = crashed && follower.Logged("failpoint snapshotBeforeInstall");
                note(interrupted
                    ? $"{follower.Name} received the snapshot and crashed before installing it"
                    : $"{follower.Name} did not reach snapshotBeforeInstall in 90 s (exited: {crashed})");
                await follower.KillAsync();
                await follower.StartAsync();
                break;
            }
            case SnapshotInterruption.FollowerKilledDuringTransfer:
            {
                var current = await WaitForLeaderAsync(cluster);
                cluster.Network.Delay(current.Name, follower.Name, TimeSpan.FromMilliseconds(400)); // each 64 KB read of the proxy
                var snapDir = Path.Combine(follower.DataDir, "member", "snap");
                var starting = follower.StartAsync();
                // until the snapshot starts arriving; a loaded machine may take long to start the member
                var incoming = await WaitForIncomingSnapshotAsync(snapDir, starting, TimeSpan.FromSeconds(90));
                await follower.KillAsync();
                try
                {
                    await starting;
                }
                catch (InvalidOperationException)
                {
                    // killed before it became ready, as meant
                }
                cluster.Network.Heal();
                var partial = incoming is not null && File.Exists(incoming) ? new FileInfo(incoming).Length : -1;
                interrupted = partial >= 0;
                note(incoming is null ? $"{follower.Name} received no snapshot while starting (ready: {starting.IsCompletedSuccessfully}); killed"
                    : partial < 0 ? $"{follower.Name} had installed the snapshot from {current.Name} before the kill landed"
                    : $"{follower.Name} killed -9 while receiving the snapshot from {current.Name} ({partial} bytes so far)");
                await follower.StartAsync();
                if (interrupted && follower.Logged("Removed the unfinished snapshot file")) note($"{follower.Name} removed the unfinished snapshot file at its restart");
                if (interrupted && File.Exists(incoming))
                    problems.Add($"{follower.Name} kept the unfinished snapshot file {Path.GetFileName(incoming)} after its restart");
                break;
            }
            default:
            {
                await follower.StartAsync(); // the failpoint leader dies sending the snapshot; the next leader sends it
                interrupted = !leader.IsRunning && leader.Logged("failpoint snapshotBeforeSend");
                note(interrupted
                    ? $"the leader {leader.Name} crashed before sending the snapshot; {follower.Name} caught up from the next leader"
                    : $"{leader.Name} did not crash at snapshotBeforeSend ({follower.Name} caught up from another leader)");
                await leader.KillAsync();
                await leader.StartAsync();
                break;
            }
        }
        note($"{follower.Name} serves again{(follower.Logged("Installed a snapshot from the leader") ? " (installed a snapshot)" : "")}");
        return (interrupted, problems);
    }

    private static async Task<string?> WaitForIncomingSnapshotAsync(string snapDir, Task starting, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !starting.IsCompleted)
        {
            try
            {
                if (Directory.Exists(snapDir) && Directory.EnumerateFiles(snapDir, "incoming-*.db").FirstOrDefault() is { } file && new FileInfo(file).Length > 0) return file;
            }
            catch (IOException)
            {
                // installed (moved away) between the listing and the look: look again
            }
            await Task.Delay(5);
        }
        return null;
    }

    private static async Task<MemberProcess> WaitForLeaderAsync(TestCluster cluster)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await cluster.LeaderAsync() is { } leader) return leader;
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException("no leader for 30 s");
            await Task.Delay(200);
        }
    }

    /// <summary>MoveLeader to <paramref name="target"/>, asked of the current leader, until it leads (or 15 s pass).</summary>
    private static async Task<bool> MoveLeaderAsync(TestCluster cluster, MemberProcess target)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var leader = await cluster.LeaderAsync();
            if (leader == target) return true;
            if (leader is not null)
            {
                try
                {
                    using var channel = GrpcChannel.ForAddress(leader.ClientUrl);
                    await new Maintenance.MaintenanceClient(channel).MoveLeaderAsync(new MoveLeaderRequest { TargetID = target.Id },
                        deadline: DateTime.UtcNow.AddSeconds(5));
                }
                catch (RpcException)
                {
                    // not in sync yet, or leadership changed meanwhile: ask again
                }
            }
            await Task.Delay(300);
        }
        return false;
    }

    /// <summary>Puts <paramref name="count"/> values of 2 KB under 64 keys outside the workload's prefix (so no checker
    /// sees them) through the running voters, 8 at a time: the backend grows past a few 64 KB chunks, so a snapshot
    /// takes several reads of a slowed proxy to arrive.</summary>
    public static async Task WriteFillerAsync(TestCluster cluster, int count)
    {
        var endpoints = cluster.Voters.Where(member => member.IsRunning && !member.IsPaused).Select(member => member.ClientUrl).ToList();
        var next = -1;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            var endpoint = worker;
            var channel = GrpcChannel.ForAddress(endpoints[endpoint % endpoints.Count]);
            while (DateTime.UtcNow < deadline)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count) break;
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"filler/{i % 64}"), Value = ByteString.CopyFromUtf8($"v{i}".PadRight(2048, '.')) },
                            deadline: DateTime.UtcNow.AddSeconds(3));
                        break;
                    }
                    catch (RpcException)
                    {
                        channel.Dispose();
                        channel = GrpcChannel.ForAddress(endpoints[++endpoint % endpoints.Count]);
                    }
                }
            }
            channel.Dispose();
        }));
    }
}
