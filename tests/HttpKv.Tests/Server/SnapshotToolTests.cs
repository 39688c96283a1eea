using HttpKv.Server;
using HttpKv.Server.Cluster;
using HttpKv.Server.Maintenance;

namespace HttpKv.Tests.Server;

/// <summary>The pure parts of snapshot save/status/restore: etcd's digest rule, progress marks, etcdctl's printers,
/// and the checks restore makes before it writes anything.</summary>
public sealed class SnapshotToolTests
{
    [Theory]
    [InlineData(4096 + 32, true)]
    [InlineData(512 * 7 + 32, true)]
    [InlineData(4096, false)]
    [InlineData(4096 + 31, false)]
    [InlineData(4096 + 33, false)]
    public void A_file_has_a_digest_when_it_is_32_bytes_past_a_multiple_of_512(long length, bool hashed) =>
        Assert.Equal(hashed, SnapshotFile.HasHash(length));

    [Fact]
    public void Progress_is_reported_every_tenth_for_a_large_transfer_and_not_at_all_for_a_small_one()
    {
        var large = new SnapshotProgress(1000, threshold: 100);
        var reported = Enumerable.Range(1, 1000).Select(done => large.Report(done)).Where(percent => percent is not null).ToList();
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], reported.Select(percent => percent!.Value));

        var small = new SnapshotProgress(99, threshold: 100);
        Assert.All(Enumerable.Range(1, 99), done => Assert.Null(small.Report(done)));

        // At most every step bytes: 1 GiB in 64 MiB steps reports 16 times.
        var huge = new SnapshotProgress(1L << 30, threshold: 1, step: 64L << 20);
        var count = 0;
        for (long done = 1 << 20; done <= 1L << 30; done += 1 << 20) if (huge.Report(done) is not null) count++;
        Assert.Equal(16, count);
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(9, "9 B")]
    [InlineData(512, "512 B")]
    [InlineData(24576, "25 kB")]
    [InlineData(2105344, "2.1 MB")]
    [InlineData(1000000, "1.0 MB")]
    public void Sizes_print_as_etcdctl_prints_them(long bytes, string expected) => Assert.Equal(expected, SnapshotCommand.HumanBytes(bytes));

    [Fact]
    public void Status_prints_in_etcdctls_four_formats()
    {
        var status = new SnapshotStatus(0xc55e8b8, 9, 13, 24576);
        Assert.Equal("""
            +---------+----------+------------+------------+
            |  HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |
            +---------+----------+------------+------------+
            | c55e8b8 |        9 |         13 | 25 kB      |
            +---------+----------+------------+------------+

            """.ReplaceLineEndings("\n"), SnapshotCommand.Format(status, "table"));
        Assert.Equal("c55e8b8, 9, 13, 25 kB\n", SnapshotCommand.Format(status, "simple"));
        Assert.Equal("{\"hash\":206956728,\"revision\":9,\"totalKey\":13,\"totalSize\":24576}\n", SnapshotCommand.Format(status, "json"));
        Assert.Equal("\"Hash\" : 206956728\n\"Revision\" : 9\n\"Keys\" : 13\n\"Size\" : 24576\n", SnapshotCommand.Format(status, "fields"));
    }

    [Fact]
    public void Founders_get_the_ids_a_bootstrap_computes()
    {
        var options = new MemberOptions
        {
            Name = "m2",
            InitialCluster = "m1=http://127.0.0.1:1,m2=http://127.0.0.1:2,m3=http://127.0.0.1:3",
            InitialClusterToken = "tok",
            InitialAdvertisePeerUrls = "http://127.0.0.1:2",
        };
        var identity = MemberIdentities.FromOptions(options);
        var (membership, confState, clusterId) = FounderState.Describe(options, identity.MemberId, ["http://127.0.0.1:20"]);
        Assert.Equal(identity.ClusterId, clusterId);
        Assert.Equal(3, confState.Voters.Count);
        Assert.Equal(["m1", "m2", "m3"], membership.Snapshot.Select(member => member.Name).Order());
        Assert.Equal(["http://127.0.0.1:20"], membership.Find(identity.MemberId)!.ClientURLs);
        Assert.All(membership.Snapshot.Where(member => member.ID != identity.MemberId), member => Assert.Empty(member.ClientURLs));
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var exit = await SnapshotCommand.RunAsync(args, output, errors);
        return (exit, output.ToString(), errors.ToString());
    }

    [Fact]
    public async Task Restore_refuses_a_non_empty_data_dir_and_flags_that_do_not_name_this_member_and_leaves_nothing_behind()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-restore-test-").FullName;
        try
        {
            var snapshot = Path.Combine(root, "s.db");
            await File.WriteAllBytesAsync(snapshot, new byte[4096 + 32]);
            var full = Path.Combine(root, "full");
            Directory.CreateDirectory(full);
            await File.WriteAllTextAsync(Path.Combine(full, "keep"), "x");
            var (exit, _, errors) = await RunAsync("restore", snapshot, "--data-dir", full);
            Assert.Equal(1, exit);
            Assert.Contains("not empty", errors);
            Assert.True(File.Exists(Path.Combine(full, "keep")));

            var fresh = Path.Combine(root, "fresh");
            (exit, _, errors) = await RunAsync("restore", snapshot, "--data-dir", fresh, "--name", "m9", "--initial-cluster", "m1=http://127.0.0.1:1");
            Assert.Equal(2, exit);
            Assert.Contains("couldn't find local name \"m9\"", errors);
            (exit, _, errors) = await RunAsync("restore", snapshot, "--data-dir", fresh, "--name", "m1", "--initial-cluster", "m1=http://127.0.0.1:1",
                "--initial-advertise-peer-urls", "http://127.0.0.1:2");
            Assert.Equal(2, exit);
            Assert.Contains("missing from --initial-advertise-peer-urls", errors);

            // 4096 zero bytes and a digest of zeros: the digest does not match, and nothing is left in the data dir.
            (exit, _, errors) = await RunAsync("restore", snapshot, "--data-dir", fresh);
            Assert.Equal(1, exit);
            Assert.Contains("failed its integrity check", errors);
            Assert.False(Directory.Exists(fresh));
            // Without the check it is still refused: it is no database.
            (exit, _, errors) = await RunAsync("restore", snapshot, "--data-dir", fresh, "--skip-hash-check");
            Assert.Equal(1, exit);
            Assert.Contains("damaged database", errors);
            Assert.False(Directory.Exists(fresh));

            (exit, _, errors) = await RunAsync("status", snapshot, "--bogus");
            Assert.Equal(2, exit);
            Assert.Contains("unknown flag: --bogus", errors);
            (exit, _, errors) = await RunAsync("save", snapshot);
            Assert.Equal(2, exit);
            Assert.Contains("etcdctl --endpoints=HOST:PORT snapshot save FILE", errors);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
