using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long ticks = 1_000_000;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref ticks);
    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());
    public void Advance(TimeSpan span) => Interlocked.Add(ref ticks, span.Ticks);
}

public sealed class LessorTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("httpkv-lessor-").FullName;
    private readonly ManualClock clock = new();
    private MvccStore store;
    private Lessor lessor;
    private ulong index;

    public LessorTests()
    {
        store = Open();
        lessor = new Lessor(2, clock);
    }

    private MvccStore Open() => MvccStore.Open(Path.Combine(dir, "db"), new MvccOptions { MapSizeBytes = 64 << 20 }, NullLogger.Instance);

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    /// <summary>Applies one entry as the apply loop does: the lessor's own cases, or the store's.</summary>
    private object Apply(LogRequest request)
    {
        using var batch = store.BeginApply();
        batch.Leases = lessor;
        var at = ++index;
        object result;
        try
        {
            result = request.RequestCase switch
            {
                LogRequest.RequestOneofCase.LeaseGrant => lessor.ApplyGrant(batch, at, request.LeaseGrant),
                LogRequest.RequestOneofCase.LeaseRevoke => lessor.ApplyRevoke(batch, at, request.LeaseRevoke),
                LogRequest.RequestOneofCase.LeaseCheckpoint => lessor.ApplyCheckpoint(batch, at, request.LeaseCheckpoint),
                _ => batch.Apply(at, request),
            };
        }
        catch (EtcdException exception)
        {
            result = exception;
        }
        batch.Commit();
        return result;
    }

    private void Grant(long id, long ttl) => Assert.IsType<LeaseGrantResponse>(Apply(new LogRequest { LeaseGrant = new LeaseGrantRequest { ID = id, TTL = ttl } }));

    private object Put(string key, long lease) => Apply(new LogRequest { Put = new PutRequest { Key = B(key), Value = B("v"), Lease = lease } });

    private long Count(string key) => store.Range(new RangeRequest { Key = B(key) }).Count;

    [Fact]
    public void MinTtl_IsEtcds()
    {
        Assert.Equal(2, Lessor.MinTtlFor(10, TimeSpan.FromMilliseconds(100)));
        Assert.Equal(1, Lessor.MinTtlFor(5, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void Grant_TwiceTheSameId_IsLeaseExists()
    {
        Grant(7, 10);
        var again = Assert.IsType<EtcdException>(Apply(new LogRequest { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 10 } }));
        Assert.Equal(EtcdErrors.LeaseExists, again.Error);
    }

    [Fact]
    public void Put_WithAMissingLease_IsLeaseNotFound()
    {
        var failure = Assert.IsType<EtcdException>(Put("a", 9));
        Assert.Equal(EtcdErrors.LeaseNotFound, failure.Error);
    }

    [Fact]
    public void Revoke_DeletesEveryAttachedKeyInOneRevision()
    {
        Grant(7, 10);
        Put("a", 7);
        Put("b", 7);
        Put("c", 0);
        var before = store.CurrentRevision;
        var revoked = Assert.IsType<LeaseRevokeResponse>(Apply(new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } }));
        Assert.Equal(before + 1, revoked.Header.Revision);
        Assert.Equal(0, Count("a"));
        Assert.Equal(0, Count("b"));
        Assert.Equal(1, Count("c"));
        Assert.Null(lessor.TimeToLive(7, withKeys: true));
        var missing = Assert.IsType<EtcdException>(Apply(new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } }));
        Assert.Equal(EtcdErrors.LeaseNotFound, missing.Error);
    }

    [Fact]
    public void Put_MovesTheKeyToItsNewLease_AndIgnoreLeaseKeepsIt()
    {
        Grant(1, 10);
        Grant(2, 10);
        Put("k", 1);
        Put("k", 2);
        Assert.Empty(lessor.TimeToLive(1, withKeys: true)!.Keys);
        Assert.Equal([B("k")], lessor.TimeToLive(2, withKeys: true)!.Keys);
        Apply(new LogRequest { Put = new PutRequest { Key = B("k"), Value = B("w"), IgnoreLease = true } });
        Assert.Equal([B("k")], lessor.TimeToLive(2, withKeys: true)!.Keys);
        Put("k", 0);
        Assert.Empty(lessor.TimeToLive(2, withKeys: true)!.Keys);
    }

    [Fact]
    public void OnlyThePrimary_ExpiresLeases()
    {
        Grant(1, 5);
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Empty(lessor.Expired(10));
        Assert.Throws<EtcdException>(() => lessor.Renew(1));
        lessor.Promote(TimeSpan.FromSeconds(1));
        Assert.Empty(lessor.Expired(10));
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(lessor.Expired(10));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([1L], lessor.Expired(10));
        Assert.Equal(0, lessor.Renew(1).Ttl); // expired: its revoke is on its way
        lessor.Demote();
        Assert.Empty(lessor.Expired(10));
    }

    [Fact]
    public void Promotion_ExtendsEveryLeaseFromNow_AndKeepAliveRenews()
    {
        lessor.Promote(TimeSpan.Zero);
        Grant(1, 10);
        clock.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(2, lessor.TimeToLive(1, withKeys: false)!.TTL);
        lessor.Demote();
        lessor.Promote(TimeSpan.FromSeconds(1)); // a new leader: the whole TTL again, plus the election timeout
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(6, lessor.TimeToLive(1, withKeys: false)!.TTL);
        Assert.Equal(10, lessor.Renew(1).Ttl);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(lessor.Expired(10));
        Assert.Equal(0, lessor.Renew(99).Ttl);
    }

    private void Checkpoint(params LeaseCheckpoint[] checkpoints)
    {
        var request = new LeaseCheckpointRequest();
        request.Checkpoints.AddRange(checkpoints);
        Assert.IsType<LeaseCheckpointResponse>(Apply(new LogRequest { LeaseCheckpoint = request }));
    }

    [Fact]
    public void A_checkpointed_remaining_ttl_is_where_the_next_leader_starts_the_lease()
    {
        var interval = TimeSpan.FromMinutes(5);
        lessor.Promote(TimeSpan.Zero);
        Grant(1, 600);
        Grant(2, 900);
        clock.Advance(TimeSpan.FromSeconds(400));
        var checkpoints = lessor.Checkpoints(interval);
        Assert.Equal([(1L, 200L), (2L, 500L)], checkpoints.OrderBy(c => c.ID).Select(c => (c.ID, c.RemainingTTL)));
        Checkpoint(checkpoints.Where(c => c.ID == 1).ToArray());
        lessor.Demote();
        Assert.Empty(lessor.Checkpoints(interval)); // only the leader checkpoints
        lessor.Promote(TimeSpan.FromSeconds(1));
        Assert.Equal(201, lessor.TimeToLive(1, withKeys: false)!.TTL); // from the checkpoint, plus the election timeout
        Assert.Equal(901, lessor.TimeToLive(2, withKeys: false)!.TTL); // never checkpointed: the whole TTL again
        clock.Advance(TimeSpan.FromSeconds(201));
        Assert.Equal([1L], lessor.Expired(10));
    }

    [Fact]
    public void A_keep_alive_asks_to_clear_the_checkpoint_and_a_zero_checkpoint_clears_it()
    {
        lessor.Promote(TimeSpan.Zero);
        Grant(1, 600);
        Assert.Equal((600L, false), lessor.Renew(1));
        Checkpoint(new LeaseCheckpoint { ID = 1, RemainingTTL = 100 }, new LeaseCheckpoint { ID = 99, RemainingTTL = 5 });
        Assert.Equal((600L, true), lessor.Renew(1));
        Checkpoint(new LeaseCheckpoint { ID = 1, RemainingTTL = 0 });
        Assert.Equal((600L, false), lessor.Renew(1));
        lessor.Demote();
        lessor.Promote(TimeSpan.Zero);
        Assert.Equal(600, lessor.TimeToLive(1, withKeys: false)!.TTL);
    }

    [Fact]
    public void Only_leases_longer_than_the_interval_are_checkpointed_in_entries_of_at_most_1000()
    {
        lessor.Promote(TimeSpan.Zero);
        Grant(1, 300);
        Grant(2, 301);
        Assert.Equal([2L], lessor.Checkpoints(TimeSpan.FromMinutes(5)).Select(c => c.ID));
        var many = Enumerable.Range(1, 2500).Select(id => new LeaseCheckpoint { ID = id, RemainingTTL = 1 }).ToList();
        Assert.Equal([1000, 1000, 500], LeaseCheckpointer.Entries(many).Select(entry => entry.LeaseCheckpoint.Checkpoints.Count));
    }

    [Fact]
    public void Leases_AndTheirKeys_SurviveAReopen()
    {
        Grant(1, 30);
        Grant(2, 40);
        Put("a", 1);
        Put("b", 2);
        Apply(new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = 2 } });
        store.Dispose();
        store = Open();
        lessor = new Lessor(2, clock);
        lessor.Restore(store);
        Assert.Equal([1L], lessor.Ids());
        var ttl = lessor.TimeToLive(1, withKeys: true)!;
        Assert.Equal(30, ttl.GrantedTTL);
        Assert.Equal([B("a")], ttl.Keys);
        Assert.Equal(0, Count("b"));
    }

    public void Dispose()
    {
        store.Dispose();
        Directory.Delete(dir, recursive: true);
    }
}
