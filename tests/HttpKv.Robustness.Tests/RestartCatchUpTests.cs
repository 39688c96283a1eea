using System.Net;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Faults;

namespace HttpKv.Robustness.Tests;

/// <summary>A member killed with kill -9 (the leader or a follower) while writes go on comes back ready — having
/// published itself through the log — and ends with the same HashKV as the others, whether it catches up from the
/// leader's log or needs a snapshot because the leader compacted past it (row 4 of "Bugs found" in ROBUSTNESS.md).</summary>
public sealed class RestartCatchUpTests
{
    /// <summary>Entries a leader keeps behind its snapshot (ClusterLog's CatchUpEntries): a member further behind needs a snapshot.</summary>
    private const long CatchUpEntries = 5000;

    [Fact]
    public async Task A_killed_member_comes_back_ready_and_converges_whether_it_needs_a_snapshot_or_not()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-restart-").FullName;
        var keep = false;
        var members = new List<MemberProcess>();
        var proxies = new List<PeerProxy>();
        var network = new NetworkFaults();
        using var stop = new CancellationTokenSource();
        Task? writers = null;
        try
        {
            for (var i = 1; i <= 3; i++)
            {
                members.Add(new MemberProcess($"m{i}", root, _ =>
                [
                    "--initial-cluster", string.Join(',', members.Select(m => $"{m.Name}={m.PeerUrl}")),
                    "--initial-cluster-state", "new", "--initial-cluster-token", "restart",
                    "--heartbeat-interval", "100", "--election-timeout", "1000", "--snapshot-count", "100",
                    "--log-level", "info",
                ], peerListenAddress: $"127.0.0.{10 + i}"));
            }
            string? MemberAt(IPAddress address) => members.FirstOrDefault(m => m.PeerListenAddress == address.ToString())?.Name;
            foreach (var member in members)
            {
                proxies.Add(new PeerProxy(new IPEndPoint(IPAddress.Loopback, member.PeerPort),
                    new IPEndPoint(IPAddress.Parse(member.PeerListenAddress!), member.PeerPort), member.Name, MemberAt, network));
            }
            await Task.WhenAll(members.Select(member => member.StartAsync()));
            writers = Task.WhenAll(Enumerable.Range(0, 6).Select(i => WriteAsync(members, i, stop.Token)));

            // The leader, then a follower, each killed once for a short outage (it catches up from the log) and once
            // until the leader has compacted past it (it needs a snapshot).
            foreach (var (killLeader, needSnapshot) in new[] { (true, false), (true, true), (false, true), (false, false), (true, true) })
            {
                var leader = await LeaderAsync(members);
                var victim = killLeader ? leader : members.First(member => member != leader);
                var before = (await StatusAsync(victim))?.RaftIndex ?? 0;
                await victim.KillAsync();
                if (needSnapshot)
                {
                    await EventuallyAsync(async () =>
                    {
                        foreach (var other in members.Where(member => member != victim))
                            if (await StatusAsync(other) is { } status && status.RaftAppliedIndex > before + CatchUpEntries + 500) return status;
                        return null;
                    }, TimeSpan.FromSeconds(120), "the others committing past what the killed member has");
                }
                else
                {
                    await Task.Delay(TimeSpan.FromSeconds(2));
                }
                try
                {
                    await victim.StartAsync();
                }
                catch (InvalidOperationException exception)
                {
                    keep = true;
                    Assert.Fail($"{victim.Name} (killed as {(killLeader ? "leader" : "follower")}, needing a snapshot: {needSnapshot}) " +
                        $"did not come back ready; data kept in {root}\n{exception.Message}\n" +
                        string.Join('\n', members.Where(m => m != victim).Select(m => $"==== {m.Name}\n{Tail(m.Output)}")));
                }
            }

            await stop.CancelAsync();
            await writers;
            var hashes = await EventuallyAsync(async () =>
            {
                var statuses = await Task.WhenAll(members.Select(StatusAsync));
                if (statuses.Any(s => s is null) || statuses.Select(s => s!.Header.Revision).Distinct().Count() != 1) return null;
                var revision = statuses[0]!.Header.Revision;
                var all = new List<uint>();
                foreach (var member in members)
                {
                    using var channel = GrpcChannel.ForAddress(member.ClientUrl);
                    all.Add((await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest { Revision = revision },
                        deadline: DateTime.UtcNow.AddSeconds(5))).Hash);
                }
                return all;
            }, TimeSpan.FromSeconds(60), "every member at the same revision");
            Assert.Single(hashes.Distinct());
        }
        finally
        {
            await stop.CancelAsync();
            if (writers is not null) await writers.ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var member in members) await member.DisposeAsync();
            foreach (var proxy in proxies) await proxy.DisposeAsync();
            if (!keep) Directory.Delete(root, recursive: true);
        }
    }

    private static string Tail(string output)
    {
        var lines = output.Split('\n');
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 60)));
    }

    /// <summary>Puts to whichever member answers, as fast as they take them, until stopped.</summary>
    private static async Task WriteAsync(IReadOnlyList<MemberProcess> members, int writer, CancellationToken stop)
    {
        var channels = members.Select(member => GrpcChannel.ForAddress(member.ClientUrl)).ToList();
        try
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var member = (writer + i) % members.Count;
                try
                {
                    await new KV.KVClient(channels[member]).PutAsync(
                        new PutRequest { Key = ByteString.CopyFromUtf8($"k/{writer}/{i % 20}"), Value = ByteString.CopyFromUtf8($"v{i}") },
                        deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
                }
                catch (RpcException)
                {
                    await Task.Delay(20, CancellationToken.None); // that member is down or not ready: the next one
                }
            }
        }
        finally
        {
            foreach (var channel in channels) channel.Dispose();
        }
    }

    private static async Task<StatusResponse?> StatusAsync(MemberProcess member)
    {
        if (!member.IsRunning) return null;
        try
        {
            using var channel = GrpcChannel.ForAddress(member.ClientUrl);
            return await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
        }
        catch (RpcException)
        {
            return null;
        }
    }

    private static async Task<MemberProcess> LeaderAsync(IReadOnlyList<MemberProcess> members) =>
        await EventuallyAsync(async () =>
        {
            foreach (var member in members)
                if (await StatusAsync(member) is { } status && status.Leader == status.Header.MemberId) return member;
            return null;
        }, TimeSpan.FromSeconds(30), "a leader");

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(200);
        }
        throw new TimeoutException(what);
    }
}
