using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;

namespace HttpKv.Robustness.Workload;

/// <summary>A client of whichever member is a learner, as etcd allows one: serializable reads only. Each read's
/// value must be the key's value at the read's revision on a voter (a learner may lag, never diverge), and a
/// linearizable read must be refused with etcd's "etcdserver: rpc not supported for learner" while the member is a
/// learner. Idle while the cluster has no learner.</summary>
public sealed class LearnerReader(TestCluster cluster, Random random)
{
    public const string NotSupported = "etcdserver: rpc not supported for learner";
    private readonly List<string> problems = [];

    public int Reads { get; private set; }
    public int Verified { get; private set; }
    public int Refusals { get; private set; }
    public IReadOnlyList<string> Problems
    {
        get { lock (problems) return [.. problems]; }
    }

    public async Task RunAsync(IReadOnlyList<string> keys, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(20, stop);
                var learner = cluster.Learner;
                if (learner is null || !learner.IsRunning || learner.IsPaused)
                {
                    await Task.Delay(200, stop);
                    continue;
                }
                await ReadAsync(learner, keys[random.Next(keys.Count)], linearizable: random.Next(10) == 0, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (RpcException)
            {
                // the learner or the voter went away mid-call: a fault, not a finding
            }
        }
    }

    private async Task ReadAsync(MemberProcess learner, string key, bool linearizable, CancellationToken stop)
    {
        using var channel = GrpcChannel.ForAddress(learner.ClientUrl);
        var kv = new KV.KVClient(channel);
        if (linearizable)
        {
            try
            {
                await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key) }, deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.Unavailable && refused.Status.Detail == NotSupported)
            {
                Refusals++;
                return;
            }
            // answered: fine if it has been promoted meanwhile
            var status = await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
            if (status.IsLearner) Report($"the learner {learner.Name} answered a linearizable read of {key}");
            return;
        }
        var read = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key), Serializable = true },
            deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
        Reads++;
        var value = read.Kvs.Count == 0 ? null : read.Kvs[0].Value.ToStringUtf8();
        var voters = cluster.Voters.Where(member => member.IsRunning && !member.IsPaused).ToList();
        if (voters.Count == 0) return;
        using var voterChannel = GrpcChannel.ForAddress(voters[random.Next(voters.Count)].ClientUrl);
        RangeResponse then;
        try
        {
            then = await new KV.KVClient(voterChannel).RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key), Revision = read.Header.Revision },
                deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: stop);
        }
        catch (RpcException compacted) when (compacted.StatusCode == StatusCode.OutOfRange)
        {
            return; // that revision has been compacted since: nothing to compare with
        }
        var expected = then.Kvs.Count == 0 ? null : then.Kvs[0].Value.ToStringUtf8();
        Verified++;
        if (expected != value)
            Report($"the learner {learner.Name} read {key} = {value ?? "(none)"} at revision {read.Header.Revision}; the voters had {expected ?? "(none)"} there");
    }

    private void Report(string problem)
    {
        lock (problems) problems.Add(problem);
    }
}
