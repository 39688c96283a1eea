using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Workload;

/// <summary>One client of the workload, on one door (gRPC or the JSON gateway) and one member at a time (it moves
/// on when a request fails): single-key gets (linearizable), puts, deletes and compare-and-swap txns, each
/// recorded with its outcome — or as unknown when no answer came, since a write may then have happened or not.</summary>
public sealed class KvClient(int id, IReadOnlyList<string> endpoints, bool http, History history, Random random) : IDisposable
{
    private readonly Dictionary<string, string?> lastSeen = [];
    private IKvTransport? transport;
    private int endpoint = id % endpoints.Count;
    private int sequence;

    public int Id { get; } = id;

    private IKvTransport Transport => transport ??= http ? new GatewayTransport(endpoints[endpoint]) : new GrpcTransport(endpoints[endpoint]);

    private void MoveOn()
    {
        transport?.Dispose();
        transport = null;
        endpoint = (endpoint + 1) % endpoints.Count;
    }

    public async Task RunAsync(IReadOnlyList<string> keys, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var key = keys[random.Next(keys.Count)];
            var roll = random.Next(100);
            if (roll < 40) await GetAsync(key);
            else if (roll < 70) await WriteAsync(OpKind.Put, key);
            else if (roll < 80) await WriteAsync(OpKind.Delete, key);
            else await WriteAsync(OpKind.CompareAndSwap, key);
        }
    }

    private async Task GetAsync(string key)
    {
        var call = history.Now;
        try
        {
            var answer = await Transport.GetAsync(key);
            lastSeen[key] = answer.Value;
            history.Add(new Operation(history.NextId(), Id, OpKind.Get, key, call, history.Now) { Observed = answer.Value, Revision = answer.Revision });
        }
        catch (NoAnswerException)
        {
            MoveOn(); // a failed read changed nothing: it is left out of the history
        }
    }

    private async Task WriteAsync(OpKind kind, string key)
    {
        var value = kind == OpKind.Delete ? null : $"c{Id}-{++sequence}";
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

    public void Dispose() => transport?.Dispose();
}
