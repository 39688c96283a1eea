using Etcdserverpb;
using Google.Protobuf;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Faults;

namespace HttpKv.Robustness.Tests;

/// <summary>A single real member, written to, killed with kill -9, with a pristine copy of its data dir that each
/// test restores before damaging it. <see cref="OldBackend"/> is the backend file as it was after the first
/// <see cref="FirstKeys"/> writes. Small WAL segments (8 KiB) give several segments to damage.</summary>
public abstract class WrittenMemberFixture(ulong snapshotCount) : IAsyncLifetime
{
    public const int FirstKeys = 20;
    public const int Keys = 120;

    public string Root { get; } = Directory.CreateTempSubdirectory("httpkv-corrupt-").FullName;
    public MemberProcess Member { get; private set; } = null!;
    /// <summary>Every acknowledged write: key → value.</summary>
    public Dictionary<string, string> Acknowledged { get; } = [];
    public string Pristine => Path.Combine(Root, "pristine");
    public string OldBackend => Path.Combine(Root, "old-db");
    public string WalDir => Path.Combine(Member.DataDir, "member", "wal");
    public string BackendPath => Path.Combine(Member.DataDir, "member", "snap", "db");

    public async Task InitializeAsync()
    {
        Member = new MemberProcess("m1", Root, member =>
        [
            "--initial-cluster", $"m1={member.PeerUrl}", "--initial-cluster-state", "new", "--initial-cluster-token", "corrupt",
            "--snapshot-count", snapshotCount.ToString(System.Globalization.CultureInfo.InvariantCulture), "--log-level", "info",
            "--HttpKv:WalSegmentSizeBytes=8192",
        ]);
        await Member.StartAsync();
        await PutAsync(Member, Acknowledged, 0, FirstKeys);
        await Member.KillAsync();
        File.Copy(BackendPath, OldBackend);
        await Member.StartAsync();
        await PutAsync(Member, Acknowledged, FirstKeys, Keys);
        await Member.KillAsync();
        DiskDamage.CopyDirectory(Member.DataDir, Pristine);
    }

    /// <summary>Puts keys k{from}..k{to-1} with distinct values; each must be acknowledged.</summary>
    public static async Task PutAsync(MemberProcess member, Dictionary<string, string> acknowledged, int from, int to)
    {
        using var channel = GrpcChannel.ForAddress(member.ClientUrl);
        var kv = new KV.KVClient(channel);
        for (var i = from; i < to; i++)
        {
            var value = $"VALUE-{i:D4}-" + new string((char)('a' + i % 26), 150);
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"k{i:D4}"), Value = ByteString.CopyFromUtf8(value) },
                deadline: DateTime.UtcNow.AddSeconds(30));
            acknowledged[$"k{i:D4}"] = value;
        }
    }

    public static async Task<Dictionary<string, string>> ReadAllAsync(MemberProcess member)
    {
        using var channel = GrpcChannel.ForAddress(member.ClientUrl);
        var all = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) },
            deadline: DateTime.UtcNow.AddSeconds(30));
        return all.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.Value.ToStringUtf8());
    }

    /// <summary>Puts the data dir back as it was after the writes.</summary>
    public void Restore()
    {
        if (Directory.Exists(Member.DataDir)) Directory.Delete(Member.DataDir, recursive: true);
        DiskDamage.CopyDirectory(Pristine, Member.DataDir);
    }

    public async Task DisposeAsync()
    {
        await Member.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Snapshots far away (etcd's default count): the WAL holds every entry since the cluster was founded.</summary>
public sealed class WholeWalFixture() : WrittenMemberFixture(snapshotCount: 100_000);

/// <summary>A snapshot every 30 entries: the backend is synced and the WAL segments it covers are deleted, so the
/// backend is the only copy of the early writes (HttpKv's snapshot is the backend file, as etcd's snap/db).</summary>
public sealed class ReleasedWalFixture() : WrittenMemberFixture(snapshotCount: 30);

/// <summary>Damaged on-disk state: start-up refuses with one clear line naming the file (exit code 1), or recovers
/// with every acknowledged write — never serves wrong data. docs/ROBUSTNESS.md, "Corrupt on-disk state and a full disk".</summary>
public sealed class CorruptionTests(WholeWalFixture whole) : IClassFixture<WholeWalFixture>
{
    private MemberProcess Member => whole.Member;

    private async Task AssertRefusedAsync(params string[] expected)
    {
        var exit = await Member.StartOrExitAsync();
        Assert.True(exit is not null, $"the member started on damaged data:\n{Member.Output}");
        Assert.True(exit == 1, $"exit code {exit}, expected 1 (a refused start, not a crash):\n{Member.Output}");
        var line = Member.Output.Split('\n').LastOrDefault(line => line.Contains("failed to start:", StringComparison.Ordinal));
        Assert.True(line is not null, $"no 'failed to start:' line:\n{Member.Output}");
        foreach (var text in expected) Assert.True(line.Contains(text, StringComparison.Ordinal), $"'{text}' is not in: {line}");
    }

    private async Task AssertRecoveredAsync()
    {
        var exit = await Member.StartOrExitAsync();
        Assert.True(exit is null, $"the member exited with {exit}:\n{Member.Output}");
        var present = await WrittenMemberFixture.ReadAllAsync(Member);
        foreach (var (key, value) in whole.Acknowledged)
        {
            Assert.True(present.TryGetValue(key, out var found), $"acknowledged {key} is missing");
            Assert.Equal(value, found);
        }
        Assert.Equal(whole.Acknowledged.Count, present.Count);
        await Member.KillAsync();
    }

    [Fact]
    public void The_WAL_has_several_segments_to_damage() => Assert.True(DiskDamage.WalSegments(whole.WalDir).Count >= 3);

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_flipped_byte_in_a_WAL_record_before_the_tail_stops_start_up_naming_the_file_and_offset(int segment)
    {
        whole.Restore();
        var segments = DiskDamage.WalSegments(whole.WalDir);
        var path = segments[segment < 0 ? segments.Count + segment : segment];
        DiskDamage.FlipByte(path, DiskDamage.WalRecordsEnd(path) / 2);
        await AssertRefusedAsync("WAL corrupt", path, "at offset ");
    }

    [Fact]
    public async Task A_torn_last_WAL_record_is_cut_and_every_acknowledged_write_is_there()
    {
        whole.Restore();
        var last = DiskDamage.WalSegments(whole.WalDir)[^1];
        DiskDamage.Truncate(last, DiskDamage.WalRecordsEnd(last) - 5);
        await AssertRecoveredAsync();
        Assert.Contains("torn", Member.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_middle_WAL_segment_cut_short_stops_start_up()
    {
        whole.Restore();
        var middle = DiskDamage.WalSegments(whole.WalDir)[1];
        DiskDamage.Truncate(middle, DiskDamage.WalRecordsEnd(middle) / 2);
        await AssertRefusedAsync("WAL corrupt", middle, "later segments follow it");
    }

    [Fact]
    public async Task A_missing_middle_WAL_segment_stops_start_up()
    {
        whole.Restore();
        var segments = DiskDamage.WalSegments(whole.WalDir);
        File.Delete(segments[1]);
        await AssertRefusedAsync("WAL corrupt", segments[2], "is missing before it");
    }

    [Fact]
    public async Task A_deleted_WAL_directory_stops_start_up()
    {
        whole.Restore();
        Directory.Delete(whole.WalDir, recursive: true);
        await AssertRefusedAsync("the WAL had no segment", whole.BackendPath, "term and vote");
    }

    [Fact]
    public async Task A_flipped_value_byte_in_the_backend_stops_start_up_naming_the_file()
    {
        whole.Restore();
        var copies = DiskDamage.FindAll(whole.BackendPath, "VALUE-0007-"u8);
        Assert.NotEmpty(copies);
        foreach (var offset in copies) DiskDamage.FlipByte(whole.BackendPath, offset + 3); // the live one and any stale page copy
        await AssertRefusedAsync(whole.BackendPath, "fails its checksum");
    }

    [Fact]
    public async Task A_backend_leaf_page_that_lost_entries_stops_start_up()
    {
        whole.Restore();
        var pages = DiskDamage.LmdbLeafPagesHolding(whole.BackendPath, "VALUE-0050-"u8);
        Assert.NotEmpty(pages);
        foreach (var page in pages) DiskDamage.FlipByte(whole.BackendPath, page + DiskDamage.LmdbLowerOffset, 0x04); // two node pointers fewer
        await AssertRefusedAsync(whole.BackendPath, "entries but a scan of its pages finds");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_damaged_backend_meta_page_stops_start_up(int meta)
    {
        whole.Restore();
        DiskDamage.FlipByte(whole.BackendPath, DiskDamage.LmdbMetaMagicOffset(meta), 0xFF);
        await AssertRefusedAsync(whole.BackendPath, "LMDB cannot open it");
    }

    [Fact]
    public async Task A_backend_cut_by_a_page_stops_start_up()
    {
        whole.Restore();
        DiskDamage.Truncate(whole.BackendPath, new FileInfo(whole.BackendPath).Length - DiskDamage.LmdbPageSize);
        await AssertRefusedAsync(whole.BackendPath, "truncated");
    }

    [Fact]
    public async Task An_older_backend_copy_catches_up_from_the_WAL_that_still_holds_every_entry()
    {
        whole.Restore();
        File.Copy(whole.OldBackend, whole.BackendPath, overwrite: true);
        await AssertRecoveredAsync();
    }
}

/// <summary>After snapshots released the WAL's early segments, the backend (HttpKv's snapshot) is the only copy of
/// the early writes: losing it, or going back to an older copy, must stop start-up rather than serve a state with
/// writes missing.</summary>
public sealed class SnapshotCorruptionTests(ReleasedWalFixture released) : IClassFixture<ReleasedWalFixture>
{
    [Fact]
    public void Snapshots_released_the_early_WAL_segments() =>
        Assert.False(File.Exists(Path.Combine(released.WalDir, "0000000000000000-0000000000000001.wal")), "segment 0 is still there");

    [Theory]
    [InlineData("older copy")]
    [InlineData("deleted")]
    [InlineData("emptied")]
    [InlineData("flipped value byte")]
    public async Task A_backend_that_the_WAL_cannot_make_whole_stops_start_up(string damage)
    {
        released.Restore();
        var db = released.BackendPath;
        switch (damage)
        {
            case "older copy": File.Copy(released.OldBackend, db, overwrite: true); break;
            case "deleted": File.Delete(db); File.Delete(db + "-lock"); break;
            case "emptied": DiskDamage.Truncate(db, 0); break;
            default:
                foreach (var offset in DiskDamage.FindAll(db, "VALUE-0003-"u8)) DiskDamage.FlipByte(db, offset + 3);
                break;
        }
        var exit = await released.Member.StartOrExitAsync();
        Assert.True(exit == 1, $"exit code {exit?.ToString() ?? "none: it started"}, expected a refused start (1):\n{released.Member.Output}");
        Assert.Contains("failed to start:", released.Member.Output);
        Assert.Contains(db, released.Member.Output);
    }

    [Fact]
    public async Task The_undamaged_data_dir_starts_with_every_acknowledged_write()
    {
        released.Restore();
        Assert.Null(await released.Member.StartOrExitAsync());
        var present = await WrittenMemberFixture.ReadAllAsync(released.Member);
        Assert.Equal(released.Acknowledged.OrderBy(pair => pair.Key), present.OrderBy(pair => pair.Key));
        await released.Member.KillAsync();
    }
}
