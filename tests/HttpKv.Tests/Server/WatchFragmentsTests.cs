using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Server.Watch;
using Mvccpb;

namespace HttpKv.Tests.Server;

/// <summary>etcd's watch fragments: parts below the limit, the last without the fragment flag, big events alone.</summary>
public sealed class WatchFragmentsTests
{
    private static Event Put(string key, int valueBytes, long revision) => new()
    {
        Kv = new KeyValue { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(new byte[valueBytes]), ModRevision = revision, CreateRevision = revision, Version = 1 },
    };

    private static WatchResponse Response(params Event[] events)
    {
        var response = new WatchResponse { Header = new ResponseHeader { ClusterId = 1, MemberId = 2, Revision = 99, RaftTerm = 2 }, WatchId = 7 };
        response.Events.AddRange(events);
        return response;
    }

    [Fact]
    public void A_response_below_the_limit_or_with_one_event_goes_whole()
    {
        var small = Response(Put("a", 10, 2), Put("b", 10, 3));
        Assert.Same(small, Assert.Single(WatchFragments.Split(small, small.CalculateSize() + 1)));
        var big = Response(Put("a", 5000, 2));
        Assert.Same(big, Assert.Single(WatchFragments.Split(big, 100)));
    }

    [Fact]
    public void Events_are_cut_in_order_into_parts_below_the_limit_all_but_the_last_marked_fragment()
    {
        var events = Enumerable.Range(0, 10).Select(i => Put($"k{i}", 1200, 2 + i)).ToArray();
        var response = Response(events);
        var parts = WatchFragments.Split(response, 4096).ToList();
        Assert.Equal([3, 3, 3, 1], parts.Select(part => part.Events.Count));
        Assert.Equal([true, true, true, false], parts.Select(part => part.Fragment));
        Assert.Equal(events, parts.SelectMany(part => part.Events));
        Assert.All(parts, part => Assert.True(part.CalculateSize() < 4096));
        Assert.All(parts, part => Assert.Equal((response.Header, 7L), (part.Header, part.WatchId)));
    }

    [Fact]
    public void An_event_larger_than_the_limit_goes_alone()
    {
        var response = Response(Put("a", 100, 2), Put("big", 5000, 3), Put("b", 100, 4), Put("c", 100, 5));
        var parts = WatchFragments.Split(response, 4096).ToList();
        Assert.Equal([1, 1, 2], parts.Select(part => part.Events.Count));
        Assert.Equal([true, true, false], parts.Select(part => part.Fragment));
        Assert.Equal("big", parts[1].Events[0].Kv.Key.ToStringUtf8());
    }

    [Fact]
    public void A_part_stops_before_the_event_that_would_reach_the_limit()
    {
        Event[] events = [Put("a", 100, 2), Put("b", 100, 3), Put("c", 100, 4)];
        var response = Response(events);
        var firstTwo = Response(events[0], events[1]);
        firstTwo.Fragment = true;
        // A part exactly at the limit is not allowed (etcd's ">="): one byte more and the first two fit together.
        Assert.Equal([1, 1, 1], WatchFragments.Split(response, firstTwo.CalculateSize()).Select(part => part.Events.Count));
        Assert.Equal([2, 1], WatchFragments.Split(response, firstTwo.CalculateSize() + 1).Select(part => part.Events.Count));
    }
}
