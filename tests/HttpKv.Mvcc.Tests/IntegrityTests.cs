using System.Diagnostics;
using Etcdserverpb;
using HttpKv.Protocol.Internal;
using HttpKv.Storage.Backend;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static HttpKv.Mvcc.Tests.TestStore;

namespace HttpKv.Mvcc.Tests;

/// <summary>Opening a store checks every stored entry (docs/decisions.md, "Backend integrity").</summary>
public sealed class IntegrityTests(ITestOutputHelper output)
{
    [Fact]
    public void Opening_a_store_of_100k_keys_checks_every_entry_and_refuses_one_flipped_value_byte()
    {
        const int keys = 100_000;
        var directory = Directory.CreateTempSubdirectory("httpkv-integrity-").FullName;
        var path = Path.Combine(directory, "db");
        var options = new MvccOptions { MapSizeBytes = 256L << 20 };
        try
        {
            Check(path, options, keys);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private void Check(string path, MvccOptions options, int keys)
    {
        var written = MvccStore.Open(path, options, NullLogger.Instance);
        ulong index = 1;
        for (var first = 0; first < keys; first += 1000)
        {
            using var batch = written.BeginApply();
            for (var i = first; i < first + 1000; i++)
            {
                batch.Apply(index++, new LogRequest { Put = new PutRequest { Key = B($"key-{i:D6}"), Value = B($"value-{i:D6}-" + new string('v', 100)) } });
            }
            batch.Commit();
        }
        written.Dispose();

        var started = Stopwatch.GetTimestamp();
        using (var store = MvccStore.Open(path, options, NullLogger.Instance))
        {
            output.WriteLine($"open of {keys} keys ({new FileInfo(path).Length} bytes), every entry checked: {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms");
            Assert.Equal(keys + 1, store.CurrentRevision);
        }

        var bytes = File.ReadAllBytes(path);
        var pattern = "value-054321-"u8.ToArray();
        var flipped = 0;
        for (var at = 0; at + pattern.Length <= bytes.Length; at++)
        {
            if (!bytes.AsSpan(at, pattern.Length).SequenceEqual(pattern)) continue;
            bytes[at + 9] ^= 0x04;
            flipped++;
        }
        Assert.True(flipped > 0);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<BackendCorruptionException>(() => MvccStore.Open(path, options, NullLogger.Instance));
        Assert.Contains("fails its checksum", error.Message);
    }
}
