using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

public sealed class ConcurrencyTests
{
    private const int Batches = 300;
    private static readonly string[] Keys = ["k0", "k1", "k2"];

    /// <summary>The writer puts k0, k1, k2 = n as three entries (three revisions) of batch n, and now and then
    /// compacts. Readers must only ever see whole batches: the three keys equal, at a committed revision.</summary>
    [Fact]
    public async Task Readers_see_only_committed_batches()
    {
        using var t = new TestStore();
        var done = 0;
        Exception? writerError = null;
        var writer = new Thread(() =>
        {
            try
            {
                Write(t.Store);
            }
            catch (Exception e)
            {
                writerError = e;
            }
            finally
            {
                Volatile.Write(ref done, 1);
            }
        });
        writer.Start();
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() => Read(t.Store, () => Volatile.Read(ref done) == 1))).ToArray();
        var counts = await Task.WhenAll(readers);
        writer.Join();
        Assert.Null(writerError);
        Assert.Equal(1 + Batches * Keys.Length, t.Store.CurrentRevision);
        Assert.All(counts, count => Assert.True(count > 0));
    }

    private static void Write(MvccStore store)
    {
        ulong index = 1;
        for (var n = 1; n <= Batches; n++)
        {
            using var batch = store.BeginApply();
            foreach (var key in Keys)
            {
                batch.Apply(index++, new LogRequest { Put = new PutRequest { Key = B(key), Value = B(n.ToString()) } });
            }
            if (n % 40 == 0)
            {
                batch.Apply(index++, new LogRequest { Compaction = new CompactionRequest { Revision = batch.CurrentRevision - 30 } });
            }
            batch.Commit();
        }
    }

    /// <summary>Returns how many non-empty reads it checked.</summary>
    private static int Read(MvccStore store, Func<bool> writerDone)
    {
        var checkedReads = 0;
        var last = false;
        while (!last)
        {
            last = writerDone();
            var before = store.CurrentRevision;
            var response = store.Range(new RangeRequest { Key = B("k"), RangeEnd = B("l") });
            var after = store.CurrentRevision;
            if (before == 1 && response.Kvs.Count == 0) continue;
            AssertWholeBatch(response, before, after);
            checkedReads++;
            try
            {
                var historical = store.Range(new RangeRequest { Key = B("k"), RangeEnd = B("l"), Revision = before });
                AssertWholeBatch(historical, before, before);
            }
            catch (EtcdException e) when (e.Error == EtcdErrors.Compacted)
            {
                // compacted meanwhile: fine
            }
        }
        return checkedReads;
    }

    private static void AssertWholeBatch(RangeResponse response, long atLeast, long atMost)
    {
        Assert.Equal(Keys.Length, response.Kvs.Count);
        Assert.Single(response.Kvs.Select(kv => kv.Value).Distinct());
        var revision = response.Kvs.Max(kv => kv.ModRevision);
        Assert.InRange(revision, atLeast, atMost);
        Assert.Equal(0, (revision - 1) % Keys.Length); // a batch boundary
    }
}
