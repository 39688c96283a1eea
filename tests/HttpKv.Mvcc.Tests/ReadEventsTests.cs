using Etcdserverpb;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

/// <summary>History for watchers: chunks bounded in events and in bytes, never splitting one revision.</summary>
public sealed class ReadEventsTests
{
    private static string Value(int bytes) => new('v', bytes);

    [Fact]
    public void A_chunk_stops_before_the_revision_that_would_pass_the_byte_limit()
    {
        using var t = new TestStore();
        for (var i = 0; i < 10; i++) t.Put($"k{i}", Value(1000)); // revisions 2..11
        var (events, through) = t.Store.ReadEvents(2, 1000, maxBytes: 3500);
        Assert.Equal([2L, 3L, 4L], events.Select(change => change.Kv.ModRevision));
        Assert.Equal(4, through);
        var (rest, end) = t.Store.ReadEvents(5, 1000, maxBytes: long.MaxValue);
        Assert.Equal(7, rest.Count);
        Assert.Equal(11, end);
    }

    [Fact]
    public void One_revision_is_never_split_and_a_first_event_above_the_limit_comes_alone()
    {
        using var t = new TestStore();
        t.Put("big", Value(5000)); // 2
        var txn = new TxnRequest();
        for (var i = 0; i < 4; i++) txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B($"t{i}"), Value = B(Value(1000)) } });
        t.Txn(txn); // 3: four changes
        t.Put("after", "x"); // 4
        var (first, firstThrough) = t.Store.ReadEvents(2, 1000, maxBytes: 1500);
        Assert.Equal("big", Assert.Single(first).Kv.Key.ToStringUtf8());
        Assert.Equal(2, firstThrough);
        var (second, secondThrough) = t.Store.ReadEvents(3, 1000, maxBytes: 1500);
        Assert.Equal(4, second.Count);
        Assert.All(second, change => Assert.Equal(3, change.Kv.ModRevision));
        Assert.Equal(3, secondThrough);
    }
}
