using System.Collections.Concurrent;
using System.Net.Http.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HttpKv.Robustness.Cluster;
using HttpKv.Robustness.Faults;

namespace HttpKv.Robustness.Tests;

/// <summary>A member whose data dir is on a 16 MB filesystem, written until the disk is full: the member stops with a
/// fatal log (etcd panics on a failed WAL write) or refuses writes with an error, never answers a client with a
/// stack trace, and after the filesystem grows it starts with every acknowledged write.</summary>
public sealed class DiskFullTests
{
    private const int ValueBytes = 48 * 1024;

    [Fact]
    public async Task A_full_disk_stops_writes_cleanly_and_loses_no_acknowledged_write()
    {
        var root = Directory.CreateTempSubdirectory("httpkv-diskfull-").FullName;
        try
        {
            using var disk = SmallDisk.Mount(Path.Combine(root, "disk"), 16);
            await using var member = new MemberProcess("m1", disk.MountPoint, m =>
            [
                "--initial-cluster", $"m1={m.PeerUrl}", "--initial-cluster-state", "new", "--initial-cluster-token", "diskfull", "--log-level", "info",
            ]);
            await member.StartAsync();

            var acknowledged = new ConcurrentDictionary<string, string>();
            var failures = new ConcurrentQueue<string>();
            var next = -1;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            async Task WriteAsync(Func<string, string, Task> put)
            {
                var failed = 0;
                while (!stop.IsCancellationRequested && member.IsRunning && failed < 20)
                {
                    var i = Interlocked.Increment(ref next);
                    var key = $"full{i:D4}";
                    var value = $"{i:D4}:" + new string((char)('A' + i % 26), ValueBytes);
                    try
                    {
                        await put(key, value);
                        acknowledged[key] = value;
                        failed = 0;
                    }
                    catch (Exception exception) when (exception is RpcException or HttpRequestException or TaskCanceledException or ClientError)
                    {
                        failures.Enqueue(exception.Message);
                        failed++;
                        await Task.Delay(100);
                    }
                }
            }

            using var channel = GrpcChannel.ForAddress(member.ClientUrl);
            var kv = new KV.KVClient(channel);
            using var http = new HttpClient { BaseAddress = new Uri(member.ClientUrl), Timeout = TimeSpan.FromSeconds(20) };
            Task Grpc(string key, string value) => kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) },
                deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync;
            async Task Json(string key, string value)
            {
                using var response = await http.PostAsJsonAsync("/v3/kv/put", new
                {
                    key = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(key)),
                    value = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value)),
                });
                if (!response.IsSuccessStatusCode) throw new ClientError($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
            await Task.WhenAll(WriteAsync(Grpc), WriteAsync(Grpc), WriteAsync(Json));

            Assert.False(failures.IsEmpty, $"no write failed: the disk never filled ({disk.Method}, {acknowledged.Count} writes)\n{member.Output}");
            Assert.True(acknowledged.Count > 50, $"only {acknowledged.Count} writes before the disk was full:\n{member.Output}");
            foreach (var failure in failures)
            {
                Assert.DoesNotContain("   at ", failure); // no stack trace for a client
                Assert.DoesNotContain("HTTP 500", failure);
            }
            if (await member.WaitForExitAsync(TimeSpan.FromSeconds(30)))
            {
                Assert.Contains("FATL", member.Output); // it stopped, saying why
                Assert.Contains("Raft loop failed", member.Output);
            }
            await member.KillAsync();

            disk.Grow(96);
            await member.StartAsync();
            using var again = GrpcChannel.ForAddress(member.ClientUrl);
            var present = new Dictionary<string, string>();
            foreach (var batch in acknowledged.Keys.Order().Chunk(20))
            {
                var range = await new KV.KVClient(again).RangeAsync(new RangeRequest
                {
                    Key = ByteString.CopyFromUtf8(batch[0]),
                    RangeEnd = ByteString.CopyFromUtf8(batch[^1] + "\0"),
                }, deadline: DateTime.UtcNow.AddSeconds(30));
                foreach (var found in range.Kvs) present[found.Key.ToStringUtf8()] = found.Value.ToStringUtf8();
            }
            foreach (var (key, value) in acknowledged)
            {
                Assert.True(present.TryGetValue(key, out var found), $"acknowledged {key} is missing after the restart");
                Assert.True(found == value, $"{key} has a different value after the restart");
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class ClientError(string message) : Exception(message);
}
