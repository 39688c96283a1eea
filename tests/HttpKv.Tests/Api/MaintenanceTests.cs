using System.Diagnostics;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Xunit.Abstractions;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>The Maintenance service on one member: alarms and what they refuse, the backend quota and etcd's recovery
/// from it, defragmentation under load, Hash, Status sizes and Downgrade's errors.</summary>
public sealed class MaintenanceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long Quota = 8L << 20;
    private readonly HttpKvFactory factory = new(new Dictionary<string, string> { ["HttpKv:QuotaBackendBytes"] = Quota.ToString() });
    private HttpClient client = null!;
    private Maintenance.MaintenanceClient maintenance = null!;
    private KV.KVClient kv = null!;
    private Lease.LeaseClient lease = null!;

    public Task InitializeAsync()
    {
        client = factory.CreateClient();
        var channel = factory.CreateGrpcChannel();
        maintenance = new Maintenance.MaintenanceClient(channel);
        kv = new KV.KVClient(channel);
        lease = new Lease.LeaseClient(channel);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    private async Task<ulong> MemberIdAsync() => (await maintenance.StatusAsync(new StatusRequest())).Header.MemberId;

    private async Task<RpcException> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        output.WriteLine($"{error.StatusCode}: {error.Status.Detail}");
        return error;
    }

    [Fact]
    public async Task An_activated_NOSPACE_alarm_is_listed_and_refuses_growth_until_disarmed()
    {
        var id = await MemberIdAsync();
        Assert.Empty((await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get })).Alarms);
        await kv.PutAsync(new PutRequest { Key = Bytes("kept"), Value = Bytes("1") });

        var raised = await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = id, Alarm = AlarmType.Nospace });
        Assert.Equal(AlarmType.Nospace, Assert.Single(raised.Alarms).Alarm);

        var listed = await client.PostOkAsync("/v3/maintenance/alarm", new { action = "GET" });
        Assert.Equal("NOSPACE", (string)Assert.Single(listed["alarms"]!.AsArray())!["alarm"]!);
        Assert.Equal($"memberID:{id} alarm:NOSPACE ", Assert.Single((await maintenance.StatusAsync(new StatusRequest())).Errors));

        var put = await RefusedAsync(async () => await kv.PutAsync(new PutRequest { Key = Bytes("new"), Value = Bytes("x") }));
        Assert.Equal(StatusCode.ResourceExhausted, put.StatusCode);
        Assert.Equal("etcdserver: mvcc: database space exceeded", put.Status.Detail);
        var (status, body) = await client.PostAsync("/v3/kv/put", $$"""{"key":"{{B64("new")}}","value":"{{B64("x")}}"}""");
        Assert.Equal(429, status);
        Assert.Equal("etcdserver: mvcc: database space exceeded", (string)body["error"]!);
        await RefusedAsync(async () => await lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }));
        var writingTxn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = Bytes("t"), Value = Bytes("1") } } } };
        await RefusedAsync(async () => await kv.TxnAsync(writingTxn));

        // Reads, read-only transactions, deletes and compaction go on: they are how space is freed.
        Assert.Equal(1, (await kv.RangeAsync(new RangeRequest { Key = Bytes("kept") })).Count);
        var readTxn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = Bytes("kept") } } } };
        Assert.True((await kv.TxnAsync(readTxn)).Succeeded);
        Assert.Equal(1, (await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes("kept") })).Deleted);
        await kv.CompactAsync(new CompactionRequest { Revision = (await kv.RangeAsync(new RangeRequest { Key = Bytes("x") })).Header.Revision });

        var cleared = await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, MemberID = id, Alarm = AlarmType.Nospace });
        Assert.Single(cleared.Alarms);
        Assert.Empty((await maintenance.AlarmAsync(new AlarmRequest())).Alarms);
        Assert.Empty((await maintenance.StatusAsync(new StatusRequest())).Errors);
        await kv.PutAsync(new PutRequest { Key = Bytes("new"), Value = Bytes("x") });
    }

    [Fact]
    public async Task A_CORRUPT_alarm_refuses_every_change_but_reads_go_on()
    {
        var id = await MemberIdAsync();
        await kv.PutAsync(new PutRequest { Key = Bytes("a"), Value = Bytes("1") });
        await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = id, Alarm = AlarmType.Corrupt });

        foreach (var change in new Func<Task>[]
                 {
                     async () => await kv.PutAsync(new PutRequest { Key = Bytes("a"), Value = Bytes("2") }),
                     async () => await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes("a") }),
                     async () => await kv.CompactAsync(new CompactionRequest { Revision = 1 }),
                     async () => await lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = 1 }),
                 })
        {
            var error = await RefusedAsync(change);
            Assert.Equal(StatusCode.DataLoss, error.StatusCode);
            Assert.Equal("etcdserver: corrupt cluster", error.Status.Detail);
        }
        Assert.Equal("1", (await kv.RangeAsync(new RangeRequest { Key = Bytes("a") })).Kvs[0].Value.ToStringUtf8());

        await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, MemberID = id, Alarm = AlarmType.Corrupt });
        await kv.PutAsync(new PutRequest { Key = Bytes("a"), Value = Bytes("2") });
    }

    /// <summary>etcd's documented recovery: past the quota the member raises NOSPACE; compact, defragment, disarm, and
    /// writes work again.</summary>
    [Fact]
    public async Task Past_the_quota_writes_fail_until_compaction_defragmentation_and_disarm()
    {
        var value = ByteString.CopyFrom(new byte[64 * 1024]);
        RpcException? full = null;
        var written = 0;
        for (; written < 1000 && full is null; written++)
        {
            try
            {
                await kv.PutAsync(new PutRequest { Key = Bytes($"big/{written % 20}"), Value = value });
            }
            catch (RpcException exception)
            {
                full = exception;
            }
        }
        Assert.NotNull(full);
        output.WriteLine($"refused after {written} puts of 64 KiB");
        Assert.Equal("etcdserver: mvcc: database space exceeded", full.Status.Detail);
        var before = await maintenance.StatusAsync(new StatusRequest());
        Assert.True(before.DbSize + 64 * 1024 >= Quota, $"db size {before.DbSize}");
        Assert.Equal(AlarmType.Nospace, Assert.Single((await maintenance.AlarmAsync(new AlarmRequest())).Alarms).Alarm);
        await RefusedAsync(async () => await kv.PutAsync(new PutRequest { Key = Bytes("small"), Value = Bytes("1") }));

        var revision = (await kv.RangeAsync(new RangeRequest { Key = Bytes("big/0") })).Header.Revision;
        await kv.CompactAsync(new CompactionRequest { Revision = revision, Physical = true });
        await RefusedAsync(async () => await kv.PutAsync(new PutRequest { Key = Bytes("small"), Value = Bytes("1") })); // the alarm still holds
        var compacted = await maintenance.StatusAsync(new StatusRequest());
        Assert.True(compacted.DbSizeInUse < compacted.DbSize / 2, $"in use {compacted.DbSizeInUse} of {compacted.DbSize}");

        await maintenance.DefragmentAsync(new DefragmentRequest());
        var defragmented = await maintenance.StatusAsync(new StatusRequest());
        output.WriteLine($"db size {before.DbSize} → {defragmented.DbSize} (in use {defragmented.DbSizeInUse})");
        Assert.True(defragmented.DbSize < before.DbSize / 2, $"{defragmented.DbSize} after, {before.DbSize} before");

        foreach (var alarm in (await maintenance.AlarmAsync(new AlarmRequest())).Alarms)
        {
            await maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, MemberID = alarm.MemberID, Alarm = alarm.Alarm });
        }
        await kv.PutAsync(new PutRequest { Key = Bytes("small"), Value = Bytes("1") });
        Assert.Equal(20, (await kv.RangeAsync(new RangeRequest { Key = Bytes("big/"), RangeEnd = Bytes("big0"), CountOnly = true })).Count);
    }

    /// <summary>Unlike etcd's (which holds every read and write for the whole copy), defragmentation here pauses only
    /// the writer, for the last catch-up round: puts go on all through it.</summary>
    [Fact]
    public async Task Defragmentation_keeps_reads_and_writes_flowing_and_keeps_the_data()
    {
        var value = ByteString.CopyFrom(new byte[2048]); // 3 MB in all: under the quota of this class
        for (var i = 0; i < 1500; i++) await kv.PutAsync(new PutRequest { Key = Bytes($"fill/{i:D5}"), Value = value });
        await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes("fill/"), RangeEnd = Bytes("fill/01000") });
        var revision = (await kv.PutAsync(new PutRequest { Key = Bytes("mark"), Value = Bytes("1") })).Header.Revision;
        await kv.CompactAsync(new CompactionRequest { Revision = revision, Physical = true });
        var hashBefore = (await maintenance.HashKVAsync(new HashKVRequest { Revision = revision })).Hash;
        var sizeBefore = (await maintenance.StatusAsync(new StatusRequest())).DbSize;

        using var stop = new CancellationTokenSource();
        var longestPut = TimeSpan.Zero;
        var puts = 0;
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                await kv.PutAsync(new PutRequest { Key = Bytes($"during/{puts:D6}"), Value = Bytes("v") });
                var took = Stopwatch.GetElapsedTime(started);
                if (took > longestPut) longestPut = took;
                puts++;
            }
        });
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(1, (await kv.RangeAsync(new RangeRequest { Key = Bytes("fill/01200") })).Count);
                reads++;
            }
        });
        var warmUp = Stopwatch.StartNew();
        while (puts < 50) await Task.Delay(5);
        output.WriteLine($"50 puts before in {warmUp.ElapsedMilliseconds} ms");
        var putsBefore = puts;
        var defragmenting = Stopwatch.StartNew();
        await maintenance.DefragmentAsync(new DefragmentRequest());
        defragmenting.Stop();
        var putsDuring = puts - putsBefore;
        await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(writer, reader);

        var sizeAfter = (await maintenance.StatusAsync(new StatusRequest())).DbSize;
        output.WriteLine($"defragment took {defragmenting.ElapsedMilliseconds} ms; {putsDuring} puts completed during it, longest put {longestPut.TotalMilliseconds:F1} ms; {reads} reads; db {sizeBefore} → {sizeAfter}");
        Assert.True(putsDuring > 0 || defragmenting.ElapsedMilliseconds < 500, "no put completed during a defragmentation of half a second or more"); // a put takes ~10 ms here
        Assert.True(sizeAfter < sizeBefore, $"{sizeAfter} after, {sizeBefore} before");
        Assert.Equal(hashBefore, (await maintenance.HashKVAsync(new HashKVRequest { Revision = revision })).Hash);
        Assert.Equal(puts, (await kv.RangeAsync(new RangeRequest { Key = Bytes("during/"), RangeEnd = Bytes("during0"), CountOnly = true })).Count);
        Assert.Equal(500, (await kv.RangeAsync(new RangeRequest { Key = Bytes("fill/"), RangeEnd = Bytes("fill0"), CountOnly = true })).Count);
    }

    [Fact]
    public async Task Hash_changes_with_the_data_and_not_with_defragmentation()
    {
        var empty = (await maintenance.HashAsync(new HashRequest())).Hash;
        await kv.PutAsync(new PutRequest { Key = Bytes("a"), Value = Bytes("1") });
        var one = await maintenance.HashAsync(new HashRequest());
        Assert.NotEqual(empty, one.Hash);
        await maintenance.DefragmentAsync(new DefragmentRequest());
        Assert.Equal(one.Hash, (await maintenance.HashAsync(new HashRequest())).Hash);
        var json = await client.PostOkAsync("/v3/maintenance/hash", new { });
        Assert.Equal(one.Hash.ToString(), json["hash"]!.ToString());
    }

    [Fact]
    public async Task Downgrade_answers_etcds_errors()
    {
        var validate = await RefusedAsync(async () => await maintenance.DowngradeAsync(new DowngradeRequest { Action = DowngradeRequest.Types.DowngradeAction.Validate, Version = "3.4.0" }));
        Assert.Equal(StatusCode.InvalidArgument, validate.StatusCode);
        Assert.Equal("etcdserver: invalid downgrade target version", validate.Status.Detail);
        var cancel = await RefusedAsync(async () => await maintenance.DowngradeAsync(new DowngradeRequest { Action = DowngradeRequest.Types.DowngradeAction.Cancel }));
        Assert.Equal("etcdserver: no inflight downgrade job", cancel.Status.Detail);
        var (status, body) = await client.PostAsync("/v3/maintenance/downgrade", """{"action":"ENABLE","version":"3.4.0"}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: invalid downgrade target version", (string)body["error"]!);
    }
}
