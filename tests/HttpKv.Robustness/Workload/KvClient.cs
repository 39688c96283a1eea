using System.Diagnostics;
using System.Globalization;
using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Workload;

/// <summary>One client of the workload, on one door (gRPC or the JSON gateway) and one member at a time (it moves
/// on when a request fails). Each request is recorded with its outcome — or as unknown when no answer came, since a
/// write may then have happened or not. Every value written is unique. The mix:
/// <list type="bullet">
/// <item>single keys <c>k/0</c>…: linearizable gets, puts, deletes and compare-and-swap txns;</item>
/// <item>txn groups <c>k/g0/</c>, <c>k/g1/</c> (keys a, b, c): txns that compare one key's value or mod_revision with
/// what the client last saw and then put two or three of the group's keys, and linearizable ranges over the group;</item>
/// <item>leases: the client grants a lease (its own ID, <see cref="LeaseTtlSeconds"/>), puts keys
/// <c>k/l/&lt;id&gt;/a</c> and <c>/b</c> attached to it, reads them, keeps the lease alive, and revokes it after a
/// second or more (retrying a revoke that got no answer);</item>
/// <item>ranges over the whole prefix <c>k/</c>, linearizable or serializable, recorded apart
/// (<see cref="History.Ranges"/>).</item>
/// </list></summary>
public sealed class KvClient(int id, IReadOnlyList<string> endpoints, bool http, History history, Random random) : IDisposable
{
    /// <summary>Long enough that no lease expires in a run while its client lives (a lease lives a few seconds
    /// between grant and revoke, faults last at most 3 s, and a new leader gives every lease its whole TTL again);
    /// the model has no expiry, so a lease that expired anyway shows as keys vanishing without a revoke.</summary>
    public const long LeaseTtlSeconds = 30;
    public const string Prefix = "k/";
    public static readonly string[] Groups = ["k/g0/", "k/g1/"];
    private static readonly string[] GroupKeys = ["a", "b", "c"];

    private readonly Dictionary<string, string?> lastSeen = [];
    private readonly Dictionary<string, (string? Value, long ModRevision)> groupSeen = [];
    private IKvTransport? transport;
    private int endpoint = id % endpoints.Count;
    private int sequence;
    private long lease;
    private int leaseSequence;
    private readonly Stopwatch leaseAge = new();
    private int revokeTries;

    public int Id { get; } = id;

    /// <summary>The keys of a lease's partition.</summary>
    public static string LeaseKey(long lease, string name) => $"{Prefix}l/{lease:x}/{name}";

    private static string LeasePartition(long lease) => $"lease {lease:x}";

    private IKvTransport Transport => transport ??= http ? new GatewayTransport(endpoints[endpoint]) : new GrpcTransport(endpoints[endpoint]);

    private void MoveOn()
    {
        transport?.Dispose();
        transport = null;
        endpoint = (endpoint + 1) % endpoints.Count;
    }

    private string NextValue() => $"c{Id}-{++sequence}";

    public async Task RunAsync(IReadOnlyList<string> keys, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var key = keys[random.Next(keys.Count)];
            var roll = random.Next(100);
            if (roll < 28) await GetAsync(key, null);
            else if (roll < 46) await WriteAsync(OpKind.Put, key);
            else if (roll < 52) await WriteAsync(OpKind.Delete, key);
            else if (roll < 64) await WriteAsync(OpKind.CompareAndSwap, key);
            else if (roll < 72) await GroupTxnAsync(Groups[random.Next(Groups.Length)]);
            else if (roll < 78) await GroupRangeAsync(Groups[random.Next(Groups.Length)]);
            else if (roll < 84) await PrefixRangeAsync(serializable: random.Next(2) == 0);
            else await LeaseStepAsync();
        }
    }

    private async Task GetAsync(string key, string? partition)
    {
        var call = history.Now;
        try
        {
            var answer = await Transport.GetAsync(key);
            if (partition is null) lastSeen[key] = answer.Value;
            history.Add(new Operation(history.NextId(), Id, OpKind.Get, key, call, history.Now) { Observed = answer.Value, Revision = answer.Revision, Partition = partition });
        }
        catch (NoAnswerException)
        {
            MoveOn(); // a failed read changed nothing: it is left out of the history
        }
    }

    private async Task WriteAsync(OpKind kind, string key)
    {
        var value = kind == OpKind.Delete ? null : NextValue();
        var expected = lastSeen.GetValueOrDefault(key);
        var op = new Operation(history.NextId(), Id, kind, key, history.Now, 0) { Value = value, Expected = kind == OpKind.CompareAndSwap ? expected : null };
        try
        {
            var answer = kind switch
            {
                OpKind.Put => await Transport.PutAsync(key, value!),
                OpKind.Delete => await Transport.DeleteAsync(key),
                _ => await Transport.CompareAndSwapAsync(key, expected, value!),
            };
            history.Add(op with { Return = history.Now, Revision = answer.Revision, Succeeded = answer.Changed });
            if (answer.Changed) lastSeen[key] = value;
        }
        catch (NoAnswerException)
        {
            history.Add(op with { Return = long.MaxValue, Unknown = true });
            lastSeen.Remove(key);
            MoveOn();
        }
    }

    /// <summary>Compares one key of the group with what this client last saw of it (by value or by mod_revision) and
    /// puts two or three of the group's keys.</summary>
    private async Task GroupTxnAsync(string group)
    {
        var compareKey = group + GroupKeys[random.Next(GroupKeys.Length)];
        var (expected, modRevision) = groupSeen.GetValueOrDefault(compareKey);
        var byModRevision = random.Next(2) == 0;
        var written = GroupKeys.Where(_ => random.Next(3) > 0).Select(name => group + name).ToList();
        if (written.Count < 2) written = [.. GroupKeys.Select(name => group + name)];
        var puts = written.Select(key => new KeyValuePair<string, string>(key, NextValue())).ToList();
        var op = new Operation(history.NextId(), Id, OpKind.Txn, compareKey, history.Now, 0)
        {
            Expected = expected, Partition = group, Writes = [.. puts.Select(put => new KeyValuePair<string, string?>(put.Key, put.Value))],
        };
        try
        {
            var answer = await Transport.TxnAsync(compareKey, expected, modRevision, byModRevision, puts);
            history.Add(op with { Return = history.Now, Revision = answer.Revision, Succeeded = answer.Changed });
            if (answer.Changed)
            {
                foreach (var put in puts) groupSeen[put.Key] = (put.Value, answer.Revision);
            }
        }
        catch (NoAnswerException)
        {
            history.Add(op with { Return = long.MaxValue, Unknown = true });
            foreach (var put in puts) groupSeen.Remove(put.Key);
            MoveOn();
        }
    }

    private async Task GroupRangeAsync(string group)
    {
        var call = history.Now;
        try
        {
            var answer = await Transport.RangeAsync(group, serializable: false);
            foreach (var name in GroupKeys) groupSeen[group + name] = (null, 0);
            foreach (var kv in answer.Kvs) groupSeen[kv.Key] = (kv.Value, kv.ModRevision);
            history.Add(new Operation(history.NextId(), Id, OpKind.Range, group, call, history.Now)
            {
                Partition = group, Revision = answer.Revision, Read = answer.Kvs.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
            });
        }
        catch (NoAnswerException)
        {
            MoveOn();
        }
    }

    private async Task PrefixRangeAsync(bool serializable)
    {
        var call = history.Now;
        var member = endpoint;
        try
        {
            var answer = await Transport.RangeAsync(Prefix, serializable);
            history.Ranges.Add(new RangeRead(history.NextId(), Id, member, serializable, call, history.Now, answer.Revision, answer.Kvs));
        }
        catch (NoAnswerException)
        {
            MoveOn();
        }
    }

    /// <summary>One step of this client's lease's life: grant, leased puts and gets, keep-alives, revoke.</summary>
    private async Task LeaseStepAsync()
    {
        if (lease == 0)
        {
            lease = ((long)(Id + 1) << 32) | (uint)++leaseSequence;
            leaseAge.Restart();
            revokeTries = 0;
            var grant = new Operation(history.NextId(), Id, OpKind.LeaseGrant, LeasePartition(lease), history.Now, 0) { Lease = lease, Partition = LeasePartition(lease) };
            try
            {
                await Transport.LeaseGrantAsync(lease, LeaseTtlSeconds);
                history.Add(grant with { Return = history.Now, Succeeded = true });
            }
            catch (NoAnswerException)
            {
                history.Add(grant with { Return = long.MaxValue, Unknown = true }); // used anyway: its puts tell whether it exists
                MoveOn();
            }
            return;
        }
        var roll = random.Next(100);
        if (revokeTries > 0 || leaseAge.Elapsed > TimeSpan.FromSeconds(4) || roll < 20 && leaseAge.Elapsed > TimeSpan.FromSeconds(1)) await RevokeAsync();
        else if (roll < 55) await LeasePutAsync(LeaseKey(lease, random.Next(2) == 0 ? "a" : "b"));
        else if (roll < 85) await KeepAliveAsync();
        else await GetAsync(LeaseKey(lease, random.Next(2) == 0 ? "a" : "b"), LeasePartition(lease));
    }

    private async Task LeasePutAsync(string key)
    {
        var value = NextValue();
        var op = new Operation(history.NextId(), Id, OpKind.LeasePut, key, history.Now, 0) { Value = value, Lease = lease, Partition = LeasePartition(lease) };
        try
        {
            var answer = await Transport.LeasePutAsync(key, value, lease);
            history.Add(op with { Return = history.Now, Revision = answer.Revision, Succeeded = answer.Changed });
            if (!answer.Changed) lease = 0; // not found: its grant did not happen; start another
        }
        catch (NoAnswerException)
        {
            history.Add(op with { Return = long.MaxValue, Unknown = true });
            MoveOn();
        }
    }

    private async Task KeepAliveAsync()
    {
        var call = history.Now;
        try
        {
            var ttl = await Transport.KeepAliveAsync(lease);
            history.Add(new Operation(history.NextId(), Id, OpKind.LeaseKeepAlive, LeasePartition(lease), call, history.Now)
            {
                Lease = lease, Partition = LeasePartition(lease), Succeeded = ttl > 0, Value = ttl.ToString(CultureInfo.InvariantCulture),
            });
            if (ttl <= 0) lease = 0;
        }
        catch (NoAnswerException)
        {
            MoveOn();
        }
    }

    private async Task RevokeAsync()
    {
        var op = new Operation(history.NextId(), Id, OpKind.LeaseRevoke, LeasePartition(lease), history.Now, 0) { Lease = lease, Partition = LeasePartition(lease) };
        try
        {
            var answer = await Transport.LeaseRevokeAsync(lease);
            history.Add(op with { Return = history.Now, Revision = answer.Revision, Succeeded = answer.Changed });
            lease = 0;
        }
        catch (NoAnswerException)
        {
            history.Add(op with { Return = long.MaxValue, Unknown = true });
            MoveOn();
            if (++revokeTries >= 5) lease = 0; // left to expire after its TTL
        }
    }

    public void Dispose() => transport?.Dispose();
}
