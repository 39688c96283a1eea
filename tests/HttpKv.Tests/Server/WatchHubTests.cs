using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Cluster;
using HttpKv.Server.Watch;
using Microsoft.Extensions.Logging.Abstractions;
using Mvccpb;

namespace HttpKv.Tests.Server;

public sealed class WatchHubTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string directory = Path.Combine(Path.GetTempPath(), "httpkv-watch-" + Guid.NewGuid().ToString("N"));
    private readonly StoreSlot stores;
    private readonly object writeGate = new();
    private ulong nextIndex = 1;

    public WatchHubTests()
    {
        stores = new StoreSlot(MvccStore.Open(Path.Combine(directory, "db"), new MvccOptions { MapSizeBytes = 256L << 20 }, NullLogger.Instance));
    }

    private WatchHub NewHub(int capacity = WatchHub.DefaultQueueCapacity) => hub = new WatchHub(new StoreHistory(stores), capacity);

    private WatchHub? hub;

    /// <summary>As the apply loop: one batch, commit, then publish.</summary>
    private void Apply(params LogRequest[] requests)
    {
        lock (writeGate)
        {
            IReadOnlyList<Event> events;
            long revision;
            using (var batch = stores.Current.BeginApply())
            {
                foreach (var request in requests) batch.Apply(nextIndex++, request);
                events = batch.Events;
                revision = batch.CurrentRevision;
                batch.Commit();
            }
            hub?.Publish(events, revision);
        }
    }

    private static LogRequest Put(string key, string value) => new() { Put = new PutRequest { Key = B(key), Value = B(value) } };

    private static LogRequest Delete(string key) => new() { DeleteRange = new DeleteRangeRequest { Key = B(key) } };

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static WatchSpec Spec(string key, string? end = null, long start = 0, bool noPut = false, bool noDelete = false, bool prevKv = false) =>
        new(System.Text.Encoding.UTF8.GetBytes(key), end is null ? [] : System.Text.Encoding.UTF8.GetBytes(end), start, noPut, noDelete, prevKv);

    private static async Task<List<Event>> ReadEventsAsync(Watcher watcher, int count)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var events = new List<Event>();
        while (events.Count < count)
        {
            var batch = await watcher.ReadAsync(timeout.Token) ?? throw new InvalidOperationException("watcher closed");
            Assert.Equal(0, batch.CompactRevision);
            events.AddRange(batch.Events);
        }
        Assert.Equal(count, events.Count);
        return events;
    }

    private static string Describe(Event change) =>
        $"{change.Type} {change.Kv.Key.ToStringUtf8()}={change.Kv.Value.ToStringUtf8()}@{change.Kv.ModRevision}";

    [Fact]
    public async Task A_watcher_from_now_receives_later_changes_in_order()
    {
        NewHub();
        Apply(Put("foo", "before"));
        using var watcher = hub!.Watch(Spec("foo"));
        Apply(Put("foo", "1"));
        Apply(Put("bar", "x"));
        Apply(Put("foo", "2"), Delete("foo")); // two revisions in one batch
        var events = await ReadEventsAsync(watcher, 3);
        Assert.Equal(["Put foo=1@3", "Put foo=2@5", "Delete foo=@6"], events.Select(Describe));
    }

    [Fact]
    public async Task History_then_live_events_arrive_exactly_once_while_writes_continue()
    {
        NewHub();
        const int before = 1500, during = 1500;
        for (var i = 0; i < before; i++) Apply(Put("k" + (i % 7), "v" + i));
        using var watcher = hub!.Watch(Spec("k", "l", start: 1));
        var writer = Task.Run(() =>
        {
            for (var i = before; i < before + during; i++) Apply(Put("k" + (i % 7), "v" + i));
        });
        var events = await ReadEventsAsync(watcher, before + during);
        await writer;
        Assert.Equal(Enumerable.Range(2, before + during).Select(i => (long)i), events.Select(e => e.Kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, before + during).Select(i => "v" + i), events.Select(e => e.Kv.Value.ToStringUtf8()));
        Assert.True(watcher.IsSynced);
    }

    [Fact]
    public async Task Filters_ranges_and_prev_kv()
    {
        NewHub();
        using var noPut = hub!.Watch(Spec("a", "b", noPut: true));
        using var noDelete = hub.Watch(Spec("a", "b", noDelete: true, prevKv: true));
        using var all = hub.Watch(Spec("a", "\0"));
        Apply(Put("a1", "x"));
        Apply(Put("b1", "y"));
        Apply(Put("a1", "z"));
        Apply(Delete("a1"));
        Assert.Equal(["Delete a1=@5"], (await ReadEventsAsync(noPut, 1)).Select(Describe));
        var puts = await ReadEventsAsync(noDelete, 2);
        Assert.Equal(["Put a1=x@2", "Put a1=z@4"], puts.Select(Describe));
        Assert.Null(puts[0].PrevKv);
        Assert.Equal("x", puts[1].PrevKv.Value.ToStringUtf8());
        Assert.Equal(4, (await ReadEventsAsync(all, 4)).Count);
    }

    [Fact]
    public async Task A_watcher_starting_at_a_compacted_revision_is_told_the_compact_revision()
    {
        NewHub();
        for (var i = 0; i < 5; i++) Apply(Put("foo", "v" + i));
        Apply(new LogRequest { Compaction = new CompactionRequest { Revision = 4 } });
        using var watcher = hub!.Watch(Spec("foo", start: 2));
        using var timeout = new CancellationTokenSource(Deadline);
        var batch = await watcher.ReadAsync(timeout.Token);
        Assert.NotNull(batch);
        Assert.Equal(4, batch.CompactRevision);
        Assert.Null(await watcher.ReadAsync(timeout.Token));
        using var fromFive = hub.Watch(Spec("foo", start: 5));
        Assert.Equal(["Put foo=v3@5", "Put foo=v4@6"], (await ReadEventsAsync(fromFive, 2)).Select(Describe));
    }

    [Fact]
    public async Task A_stalled_watcher_does_not_block_publishing_its_queue_stays_bounded_and_it_catches_up()
    {
        NewHub(capacity: 8);
        using var stalled = hub!.Watch(Spec("k", "l"));
        using var reader = hub.Watch(Spec("k", "l"));
        const int count = 3000;
        var received = Task.Run(() => ReadEventsAsync(reader, count));
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < count; i++) Apply(Put("k", "v" + i));
        });
        Assert.Same(writer, await Task.WhenAny(writer, Task.Delay(Deadline))); // the stalled watcher reads nothing meanwhile
        Assert.True(stalled.QueuedBatches <= 8);
        Assert.False(stalled.IsSynced);
        Assert.Equal(count, (await received).Count);
        var events = await ReadEventsAsync(stalled, count);
        Assert.Equal(Enumerable.Range(2, count).Select(i => (long)i), events.Select(e => e.Kv.ModRevision));
        Apply(Put("k", "after"));
        Assert.Equal("after", (await ReadEventsAsync(stalled, 1))[0].Kv.Value.ToStringUtf8());
        Assert.True(stalled.IsSynced);
    }

    [Fact]
    public async Task A_future_start_revision_waits_for_it()
    {
        NewHub();
        using var watcher = hub!.Watch(Spec("foo", start: 4));
        Apply(Put("foo", "2"));
        Apply(Put("foo", "3"));
        Apply(Put("foo", "4"));
        Assert.Equal(["Put foo=4@4"], (await ReadEventsAsync(watcher, 1)).Select(Describe));
    }

    [Fact]
    public async Task A_thousand_watchers_on_one_prefix_each_receive_ten_thousand_puts_in_order_once()
    {
        NewHub();
        const int watcherCount = 1000, puts = 10_000, perBatch = 10;
        var watchers = Enumerable.Range(0, watcherCount).Select(_ => hub!.Watch(Spec("p/", "p0"))).ToList();
        var readers = watchers.Select(watcher => Task.Run(async () =>
        {
            var revisions = (await ReadEventsAsync(watcher, puts)).Select(e => e.Kv.ModRevision);
            return revisions.SequenceEqual(Enumerable.Range(2, puts).Select(i => (long)i));
        })).ToList();
        for (var i = 0; i < puts; i += perBatch)
        {
            Apply(Enumerable.Range(i, perBatch).Select(n => Put("p/" + (n % 100), "v" + n)).ToArray());
        }
        Assert.All(await Task.WhenAll(readers), Assert.True);
        foreach (var watcher in watchers) watcher.Dispose();
        Assert.Equal(0, hub!.SyncedCount);
    }

    [Fact]
    public async Task A_session_sends_progress_notifications_to_an_idle_watcher_that_asked_for_them()
    {
        NewHub();
        Apply(Put("foo", "x")); // revision 2
        await using var session = new WatchSession(hub!, revision => new ResponseHeader { Revision = revision }, TimeSpan.FromMilliseconds(100));
        await session.HandleAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("foo"), ProgressNotify = true } }, default);
        using var timeout = new CancellationTokenSource(Deadline);
        var created = await session.Responses.ReadAsync(timeout.Token);
        Assert.True(created.Created);
        var progress = await session.Responses.ReadAsync(timeout.Token);
        Assert.False(progress.Created);
        Assert.Empty(progress.Events);
        Assert.Equal(0, progress.WatchId);
        Assert.Equal(2, progress.Header.Revision);
    }

    [Fact]
    public async Task A_watch_from_the_compacted_revision_itself_is_told_the_next_one_so_that_resuming_there_makes_progress()
    {
        // Found by the robustness harness: the cancel of a watch from exactly the compacted revision C named C as
        // the compact revision, and a client resuming there (as etcd's clients do) was cancelled again, forever.
        NewHub();
        Apply(Put("foo", "1")); // 2
        Apply(Delete("foo")); // 3
        Apply(Put("foo", "4")); // 4
        Apply(new LogRequest { Compaction = new CompactionRequest { Revision = 3 } });
        using var timeout = new CancellationTokenSource(Deadline);
        using (var before = hub!.Watch(Spec("foo", start: 2)))
            Assert.Equal(3, (await before.ReadAsync(timeout.Token))!.CompactRevision); // as etcd: resume at 3
        using (var at = hub.Watch(Spec("foo", start: 3)))
            Assert.Equal(4, (await at.ReadAsync(timeout.Token))!.CompactRevision); // the delete at 3 is gone: resume at 4
        using var after = hub.Watch(Spec("foo", start: 4));
        Assert.Equal(["Put foo=4@4"], (await ReadEventsAsync(after, 1)).Select(Describe));
    }

    [Fact]
    public async Task A_watcher_cancelled_by_compaction_holds_progress_back_until_its_cancel_is_delivered()
    {
        // Found by the robustness harness (fresh-clone CI run, seed 1): a watcher whose start revision was compacted
        // counted as caught up as soon as it closed, so a pending progress request was answered with the store's
        // revision before the cancel reached the client, which then resumed below that revision and got events the
        // notification had claimed were delivered.
        NewHub();
        Apply(Put("foo", "1")); // 2
        Apply(Put("foo", "2")); // 3
        Apply(new LogRequest { Compaction = new CompactionRequest { Revision = 3 } });
        using var timeout = new CancellationTokenSource(Deadline);
        using var watcher = hub!.Watch(Spec("foo", start: 2));

        var cancel = await watcher.ReadAsync(timeout.Token);

        Assert.Equal(3, cancel!.CompactRevision);
        Assert.False(hub.TryProgress([watcher], out _)); // the cancel is read, not yet passed on
        watcher.Delivered();
        Assert.True(hub.TryProgress([watcher], out _));
    }

    [Fact]
    public async Task A_progress_notification_is_never_ahead_of_the_events_its_watchers_have_yet_to_send()
    {
        // Found by the robustness harness: a progress request was answered at once with the store's revision while a
        // watcher still had events at or below it to send (catching up from history, or queued), so a client that
        // trusted the notification and resumed after it lost them.
        NewHub();
        for (var i = 0; i < 30; i++) Apply([.. Enumerable.Range(0, 100).Select(j => Put($"k{j}", $"{i}"))]); // revisions 2..3001
        await using var session = new WatchSession(hub!, revision => new ResponseHeader { Revision = revision });
        await session.HandleAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("k"), RangeEnd = B("l"), StartRevision = 1 } }, default);
        await session.HandleAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, default); // the watcher is far behind
        using var timeout = new CancellationTokenSource(Deadline);
        Assert.True((await session.Responses.ReadAsync(timeout.Token)).Created);
        long last = 0, progress = 0;
        while (progress == 0)
        {
            var response = await session.Responses.ReadAsync(timeout.Token);
            if (response.WatchId == -1) progress = response.Header.Revision;
            else last = response.Events[^1].Kv.ModRevision;
        }
        Assert.Equal(3001, last); // every event through the notification's revision came before it
        Assert.Equal(3001, progress);

        // Caught up and idle: answered at once with the last published revision; then live events come after it.
        await session.HandleAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, default);
        var idle = await session.Responses.ReadAsync(timeout.Token);
        Assert.Equal((-1L, 3001L), (idle.WatchId, idle.Header.Revision));
        Apply(Put("k1", "live"));
        await session.HandleAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, default);
        var next = await session.Responses.ReadAsync(timeout.Token);
        Assert.Equal(3002, Assert.Single(next.Events).Kv.ModRevision);
        var after = await session.Responses.ReadAsync(timeout.Token);
        Assert.Equal((-1L, 3002L), (after.WatchId, after.Header.Revision));
    }

    /// <summary>The history the hub reads, with a hook that runs once right after a history read returns: there the
    /// apply loop may install a snapshot before the watcher (which read the old store) takes the hub's gate.</summary>
    private sealed class HookedHistory(IWatchHistory inner) : IWatchHistory
    {
        public Action? AfterNextRead { get; set; }

        public (IReadOnlyList<Event> Events, long Through) ReadEvents(long fromRevision, int maxEvents, long maxBytes)
        {
            var read = inner.ReadEvents(fromRevision, maxEvents, maxBytes);
            var hook = AfterNextRead;
            AfterNextRead = null;
            hook?.Invoke();
            return read;
        }

        public KeyValue? Get(ReadOnlySpan<byte> key, long revision) => inner.Get(key, revision);

        public long CurrentRevision => inner.CurrentRevision;

        public long CompactedRevision => inner.CompactedRevision;
    }

    [Fact]
    public async Task A_snapshot_installed_while_a_watcher_reads_the_old_stores_history_does_not_drop_the_snapshots_revisions()
    {
        // The leader's backend: the member's two puts and two more it never applied itself (they come with the snapshot).
        var leader = MvccStore.Open(Path.Combine(directory, "leader"), new MvccOptions { MapSizeBytes = 64L << 20 }, NullLogger.Instance);
        LogRequest[] log = [Put("a", "1"), Put("a", "2"), Put("a", "3"), Put("a", "4")];
        using (var batch = leader.BeginApply())
        {
            for (var i = 0; i < log.Length; i++) batch.Apply((ulong)i + 1, log[i]);
            batch.Commit();
        }
        var history = new HookedHistory(new StoreHistory(stores));
        hub = new WatchHub(history);
        Apply(log[0]);
        Apply(log[1]); // the member is at revision 3, the leader at 5
        using var watcher = hub.Watch(Spec("a", start: 1));
        history.AfterNextRead = () =>
        {
            stores.Replace(() => leader); // as ClusterLog.InstallSnapshot, on the apply loop
            hub.ResyncAll();
            nextIndex = (ulong)log.Length + 1;
        };
        var first = await ReadEventsAsync(watcher, 2); // read from the old store, through revision 3
        Apply(Put("a", "5")); // revision 6, the first the member commits after the snapshot
        var rest = new List<Event>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (rest.Count == 0 || rest[^1].Kv.ModRevision < 6)
            rest.AddRange((await watcher.ReadAsync(timeout.Token))!.Events);
        Assert.Equal(["Put a=1@2", "Put a=2@3", "Put a=3@4", "Put a=4@5", "Put a=5@6"], first.Concat(rest).Select(Describe));
    }

    public void Dispose()
    {
        stores.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp dir is harmless
        }
    }
}
