using HttpKv.Server;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace HttpKv.Tests.Server;

public sealed class LeaderMonitorTests
{
    private static readonly TimeSpan Election = TimeSpan.FromSeconds(1);

    /// <summary>Moves the clock one election timeout and waits until the monitor has made that check (ticks that
    /// elapse before the loop waits again would be taken as one).</summary>
    private static async Task CheckAsync(FakeTimeProvider clock, LeaderMonitor monitor)
    {
        var before = monitor.Checks;
        clock.Advance(Election);
        var until = DateTime.UtcNow.AddSeconds(30);
        while (monitor.Checks == before)
        {
            Assert.True(DateTime.UtcNow < until, "the monitor made no check");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Streams_that_require_a_leader_are_ended_after_three_election_timeouts_without_one_and_only_then()
    {
        var clock = new FakeTimeProvider();
        ulong leader = 7;
        await using var monitor = new LeaderMonitor(() => Volatile.Read(ref leader), Election, clock, NullLogger.Instance);
        var stream = monitor.NoLeader;
        for (var i = 0; i < 5; i++) await CheckAsync(clock, monitor);
        Assert.False(stream.IsCancellationRequested); // a leader all along

        Volatile.Write(ref leader, 0);
        await CheckAsync(clock, monitor);
        await CheckAsync(clock, monitor);
        Assert.False(stream.IsCancellationRequested); // two timeouts without a leader: new calls are refused, streams kept
        await CheckAsync(clock, monitor);
        Assert.True(stream.IsCancellationRequested);

        var later = monitor.NoLeader; // a stream started after: ended at the next check while there is still no leader
        Assert.False(later.IsCancellationRequested);
        await CheckAsync(clock, monitor);
        Assert.True(later.IsCancellationRequested);

        Volatile.Write(ref leader, 9);
        var afterLeader = monitor.NoLeader;
        await CheckAsync(clock, monitor);
        Volatile.Write(ref leader, 0); // lost again: the count starts over
        await CheckAsync(clock, monitor);
        await CheckAsync(clock, monitor);
        Assert.False(afterLeader.IsCancellationRequested);
    }
}
