using System.Diagnostics;
using System.Text;
using HttpKv.Storage.Backend;
using HttpKv.Storage.Tests.Wal;
using LightningDB;
using Xunit.Abstractions;

namespace HttpKv.Storage.Tests.Backend;

/// <summary>The backend's own integrity checks: a CRC-32C per entry, LMDB's entry counts, the file's length and the
/// format marker (docs/decisions.md, "Backend integrity").</summary>
public sealed class LmdbBackendIntegrityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory directory = new();
    private string FilePath => Path.Combine(directory.Path, "db");
    private static readonly BackendOptions Options = new() { MapSizeBytes = 256L << 20, Buckets = ["key", "meta"] };

    private void Write(int count, Func<int, string> value)
    {
        using var backend = LmdbBackend.Open(FilePath, Options);
        using (var write = backend.BeginWrite())
        {
            for (var i = 0; i < count; i++) write.Put(backend.Bucket("key"), Key(i), Encoding.UTF8.GetBytes(value(i)));
            write.Commit();
        }
        backend.Sync();
    }

    private static byte[] Key(int i) => Encoding.UTF8.GetBytes($"key-{i:D6}");

    [Fact]
    public void A_value_reads_back_without_its_checksum_and_survives_a_reopen()
    {
        Write(3, i => $"value-{i}");
        using var backend = LmdbBackend.Open(FilePath, Options);
        using var read = backend.BeginRead();
        Assert.True(read.TryGet(backend.Bucket("key"), Key(1), out var value));
        Assert.Equal("value-1", Encoding.UTF8.GetString(value));
        var scanned = new List<string>();
        read.Scan(backend.Bucket("key"), default, (_, v) => { scanned.Add(Encoding.UTF8.GetString(v)); return true; });
        Assert.Equal(["value-0", "value-1", "value-2"], scanned);
        Assert.Equal(3, backend.Verify(backend.Bucket("key")));
    }

    [Fact]
    public void A_flipped_value_byte_fails_the_read_and_the_verification_naming_file_and_key()
    {
        Write(50, i => $"value-{i:D4}-padding");
        var bytes = File.ReadAllBytes(FilePath);
        var pattern = "value-0017-"u8.ToArray();
        var flipped = 0;
        for (var at = 0; at + pattern.Length <= bytes.Length; at++)
        {
            if (!bytes.AsSpan(at, pattern.Length).SequenceEqual(pattern)) continue;
            bytes[at + 7] ^= 0x01;
            flipped++;
        }
        Assert.True(flipped > 0);
        File.WriteAllBytes(FilePath, bytes);

        using var backend = LmdbBackend.Open(FilePath, Options);
        using (var read = backend.BeginRead())
        {
            Assert.True(read.TryGet(backend.Bucket("key"), Key(16), out _));
            var error = Assert.Throws<BackendCorruptionException>(() => read.TryGet(backend.Bucket("key"), Key(17), out _));
            Assert.Contains(FilePath, error.Message);
            Assert.Contains(Convert.ToHexString(Key(17)), error.Message);
        }
        Assert.Throws<BackendCorruptionException>(() => backend.Verify(backend.Bucket("key")));
    }

    [Fact]
    public void A_file_cut_short_of_its_last_page_is_refused()
    {
        Write(2000, i => $"value-{i}");
        var length = new FileInfo(FilePath).Length;
        using (var file = new FileStream(FilePath, FileMode.Open)) file.SetLength(length - 4096);
        var error = Assert.Throws<BackendCorruptionException>(() => LmdbBackend.Open(FilePath, Options));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void A_file_with_data_but_no_format_marker_is_refused()
    {
        Directory.CreateDirectory(directory.Path);
        using (var environment = new LightningEnvironment(FilePath, new EnvironmentConfiguration { MapSize = 64L << 20, MaxDatabases = 4 }))
        {
            environment.Open(EnvironmentOpenFlags.NoSubDir);
            using var tx = environment.BeginTransaction();
            using var db = tx.OpenDatabase("key", new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
            tx.Put(db, "k"u8.ToArray(), "v"u8.ToArray()).ThrowOnError();
            tx.Commit().ThrowOnError();
        }
        var error = Assert.Throws<BackendCorruptionException>(() => LmdbBackend.Open(FilePath, Options));
        Assert.Contains("no format marker", error.Message);
    }

    /// <summary>The cost of the check at open: a full scan with every checksum, against the same scan's bytes run
    /// through CRC-32C alone (the figures go to docs/decisions.md; nothing here asserts a time).</summary>
    [Fact]
    public void Verify_reads_every_one_of_100k_entries()
    {
        const int count = 100_000;
        Write(count, i => $"value-{i:D6}-" + new string('x', 100));
        using var backend = LmdbBackend.Open(FilePath, Options);
        var started = Stopwatch.GetTimestamp();
        Assert.Equal(count, backend.Verify(backend.Bucket("key")));
        var verify = Stopwatch.GetElapsedTime(started);
        var copy = new MemoryStream();
        using (var read = backend.BeginRead())
        {
            read.Scan(backend.Bucket("key"), default, (key, value) => { copy.Write(key); copy.Write(value); return true; });
        }
        started = Stopwatch.GetTimestamp();
        var crc = HttpKv.Storage.Wal.Crc32C.Compute(copy.GetBuffer().AsSpan(0, (int)copy.Length));
        var crcAlone = Stopwatch.GetElapsedTime(started);
        output.WriteLine($"{count} entries, {copy.Length} bytes of keys and values, file {new FileInfo(FilePath).Length} bytes: " +
                         $"Verify (scan + every checksum + count) {verify.TotalMilliseconds:F0} ms; CRC-32C of the same bytes alone " +
                         $"{crcAlone.TotalMilliseconds:F1} ms (crc {crc:x8})");
    }

    public void Dispose() => directory.Dispose();
}
