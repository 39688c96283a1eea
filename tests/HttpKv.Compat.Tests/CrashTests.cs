using System.Collections.Concurrent;
using dotnet_etcd;

namespace HttpKv.Compat.Tests;

/// <summary>The durability contract on the real process: kill -9 loses no acknowledged write, and a corrupt WAL
/// record before the tail stops start-up with an error naming the file and offset.</summary>
public sealed class CrashTests
{
    private const int Writers = 16;
    private const int AcknowledgedBeforeKill = 400;

    [Fact]
    public async Task Kill_9_during_a_stream_of_writes_loses_no_acknowledged_write()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();
        var acknowledged = new ConcurrentDictionary<string, string>();
        using (var client = new EtcdClient(server.Url))
        using (var stop = new CancellationTokenSource())
        {
            var writers = Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var key = $"crash/{writer}/{i}";
                    try { await client.PutAsync(key, $"value-{writer}-{i}"); }
                    catch (Exception) { return; } // the server died under this write: it may or may not have landed
                    acknowledged[key] = $"value-{writer}-{i}";
                }
            })).ToArray();
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (acknowledged.Count < AcknowledgedBeforeKill && DateTime.UtcNow < deadline) await Task.Delay(5);
            await server.KillAsync();
            stop.Cancel();
            await Task.WhenAll(writers);
        }
        Assert.True(acknowledged.Count >= AcknowledgedBeforeKill, $"only {acknowledged.Count} writes were acknowledged before the kill");

        await server.StartAsync();
        using var reader = new EtcdClient(server.Url);
        var stored = await reader.GetRangeValAsync("crash/");
        var lost = acknowledged.Where(pair => !stored.TryGetValue(pair.Key, out var value) || value != pair.Value).Select(pair => pair.Key).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged writes lost after kill -9, e.g. {string.Join(", ", lost.Take(5))}");
    }

    [Fact]
    public async Task A_corrupt_wal_record_before_the_tail_stops_start_up_naming_file_and_offset()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();
        using (var client = new EtcdClient(server.Url))
        {
            for (var i = 0; i < 20; i++) await client.PutAsync($"k{i}", new string('v', 100));
        }
        await server.KillAsync();

        var segment = Directory.GetFiles(Path.Combine(server.DataDir, "member", "wal"), "*.wal").Order().First();
        var bytes = await File.ReadAllBytesAsync(segment);
        var offset = (bytes.AsSpan().LastIndexOfAnyExcept((byte)0) + 1) / 2; // in its records, not in the zeros preallocated after them
        bytes[offset] ^= 0xFF;
        await File.WriteAllBytesAsync(segment, bytes);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(server.StartAsync);
        Assert.Contains(Path.GetFileName(segment), error.Message);
        Assert.Contains("offset", error.Message);
    }
}
