using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using HttpKv.Server.Watch;
using Mvccpb;

namespace HttpKv.Benchmarks;

/// <summary>Watch fan-out: N synced watchers on one prefix, one committed batch of 10 puts published by the apply
/// loop and read by every watcher (what each watch stream's sender takes from its watcher).</summary>
[MemoryDiagnoser]
public class WatchBenchmarks
{
    private const int EventsPerBatch = 10;
    private WatchHub hub = null!;
    private Watcher[] watchers = [];
    private Event[] events = [];
    private long revision = 1;

    [Params(100, 1_000)]
    public int Watchers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        hub = new WatchHub(new NoHistory());
        var prefix = Data.Utf8(Data.Prefix);
        var end = (byte[])prefix.Clone();
        end[^1]++;
        watchers = Enumerable.Range(0, Watchers).Select(_ => hub.Watch(new WatchSpec(prefix, end))).ToArray();
        var value = Data.Value(5);
        events = Enumerable.Range(0, EventsPerBatch)
            .Select(i => new Event { Type = Event.Types.EventType.Put, Kv = new KeyValue { Key = Data.Key(i), Value = value, Version = 1 } })
            .ToArray();
    }

    [Benchmark]
    public int PublishAndRead()
    {
        revision++;
        foreach (var change in events) change.Kv.ModRevision = change.Kv.CreateRevision = revision;
        hub.Publish(events, revision);
        var delivered = 0;
        foreach (var watcher in watchers)
        {
            var read = watcher.ReadAsync(CancellationToken.None);
            if (!read.IsCompletedSuccessfully) throw new InvalidOperationException("the watcher has nothing queued");
            delivered += read.Result!.Events.Count;
            watcher.Delivered();
        }
        return delivered;
    }

    /// <summary>Synced watchers never read history; the hub only asks for the current revision.</summary>
    private sealed class NoHistory : IWatchHistory
    {
        public long CurrentRevision => 1;
        public long CompactedRevision => 0;
        public (IReadOnlyList<Event> Events, long Through) ReadEvents(long fromRevision, int maxEvents, long maxBytes) =>
            throw new InvalidOperationException("a synced watcher read history");
        public KeyValue? Get(ReadOnlySpan<byte> key, long revision) => null;
    }
}
