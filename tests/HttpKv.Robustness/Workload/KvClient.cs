using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Workload;

/// <summary>One client of the workload: a gRPC connection to one member at a time (it moves on when a request
/// fails), issuing single-key gets (linearizable), puts, deletes and compare-and-swap txns, each recorded with its
/// outcome — or as unknown when no answer came, since a write may then have happened or not.</summary>
public sealed class KvClient(int id, IReadOnlyList<string> endpoints, History history, Random random) : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(3);
    private readonly Dictionary<string, string?> lastSeen = [];
    private GrpcChannel? channel;
    private KV.KVClient? kv;
    private int endpoint = id % endpoints.Count;
    private int sequence;

    public int Id { get; } = id;

    private KV.KVClient Kv
    {
        get
        {
            if (kv is not null) return kv;
            channel = GrpcChannel.ForAddress(endpoints[endpoint]);
            return kv = new KV.KVClient(channel);
        }
    }

    private void MoveOn()
    {
        channel?.Dispose();
        channel = null;
        kv = null;
        endpoint = (endpoint + 1) % endpoints.Count;
    }

    public async Task RunAsync(IReadOnlyList<string> keys, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var key = keys[random.Next(keys.Count)];
            var roll = random.Next(100);
            if (roll < 40) await GetAsync(key);
            else if (roll < 70) await PutAsync(key);
            else if (roll < 80) await DeleteAsync(key);
            else await CompareAndSwapAsync(key);
        }
    }

    private string NewValue() => $"c{Id}-{++sequence}";

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private CallOptions Deadline() => new(deadline: DateTime.UtcNow + RequestTimeout);

    private async Task GetAsync(string key)
    {
        var call = history.Now;
        try
        {
            var response = await Kv.RangeAsync(new RangeRequest { Key = B(key) }, Deadline());
            var value = response.Kvs.Count == 0 ? null : response.Kvs[0].Value.ToStringUtf8();
            lastSeen[key] = value;
            history.Add(new Operation(history.NextId(), Id, OpKind.Get, key, call, history.Now) { Observed = value, Revision = response.Header.Revision });
        }
        catch (RpcException)
        {
            MoveOn(); // a failed read changed nothing: it is left out of the history
        }
    }

    private async Task PutAsync(string key)
    {
        var value = NewValue();
        await WriteAsync(new Operation(history.NextId(), Id, OpKind.Put, key, history.Now, 0) { Value = value }, async () =>
            (await Kv.PutAsync(new PutRequest { Key = B(key), Value = B(value) }, Deadline())).Header.Revision, true);
    }

    private async Task DeleteAsync(string key)
    {
        var deleted = false;
        await WriteAsync(new Operation(history.NextId(), Id, OpKind.Delete, key, history.Now, 0), async () =>
        {
            var response = await Kv.DeleteRangeAsync(new DeleteRangeRequest { Key = B(key) }, Deadline());
            deleted = response.Deleted > 0;
            return response.Header.Revision;
        }, () => deleted);
    }

    private async Task CompareAndSwapAsync(string key)
    {
        var expected = lastSeen.GetValueOrDefault(key);
        var value = NewValue();
        var txn = new TxnRequest();
        txn.Compare.Add(expected is null
            ? new Compare { Key = B(key), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
            : new Compare { Key = B(key), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B(expected) });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B(key), Value = B(value) } });
        var succeeded = false;
        var op = new Operation(history.NextId(), Id, OpKind.CompareAndSwap, key, history.Now, 0) { Expected = expected, Value = value };
        await WriteAsync(op, async () =>
        {
            var response = await Kv.TxnAsync(txn, Deadline());
            succeeded = response.Succeeded;
            return response.Header.Revision;
        }, () => succeeded);
    }

    private Task WriteAsync(Operation op, Func<Task<long>> send, bool changed) => WriteAsync(op, send, () => changed);

    /// <param name="changed">whether the answered write made a revision (and so a watch event).</param>
    private async Task WriteAsync(Operation op, Func<Task<long>> send, Func<bool> changed)
    {
        try
        {
            var revision = await send();
            var done = op with { Return = history.Now, Revision = revision, Succeeded = changed() };
            if (op.Kind == OpKind.Put) done = done with { Succeeded = true };
            history.Add(done);
            if (op.Kind != OpKind.Get && done.Succeeded) lastSeen[op.Key] = op.Kind == OpKind.Delete ? null : op.Value;
        }
        catch (RpcException)
        {
            history.Add(op with { Return = long.MaxValue, Unknown = true });
            lastSeen.Remove(op.Key);
            MoveOn();
        }
    }

    public void Dispose() => channel?.Dispose();
}
