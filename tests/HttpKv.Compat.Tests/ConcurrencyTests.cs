using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Compat.Tests;

/// <summary>Locks and elections (issue 5): etcdctl's lock and elect commands (clientv3/concurrency over KV, watch and
/// leases), and the Lock and Election services over gRPC (dotnet-etcd's generated clients) and the /v3 gateway, on
/// HttpKv and on the real etcd with the same assertions. Deadlines are generous liveness bounds for a busy machine.</summary>
[Collection("cluster")]
public sealed class ConcurrencyTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    /// <summary>A long-running etcdctl whose stdout lines are read as they come; stopped with SIGINT, as a user does.</summary>
    private sealed class Background : IAsyncDisposable
    {
        private readonly Process process;
        private readonly List<string> lines = [];
        private readonly Task pump;

        public Background(ServerProcess server, params string[] arguments)
        {
            var start = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { "--endpoints", server.Endpoint }.Concat(arguments)) start.ArgumentList.Add(argument);
            start.Environment["ETCDCTL_API"] = "3";
            process = Process.Start(start)!;
            _ = process.StandardError.ReadToEndAsync();
            pump = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                    lock (lines) lines.Add(line);
            });
        }

        public List<string> Lines
        {
            get
            {
                lock (lines) return [.. lines];
            }
        }

        public async Task<List<string>> WaitForLinesAsync(int count)
        {
            var deadline = Stopwatch.StartNew();
            while (Lines.Count < count)
            {
                Assert.True(deadline.Elapsed < Deadline, $"etcdctl printed only: {string.Join('|', Lines)}");
                await Task.Delay(50);
            }
            return Lines;
        }

        public async Task InterruptAsync()
        {
            if (process.HasExited) return;
            await Tool.RunAsync("kill", ["-INT", process.Id.ToString()]);
            using var timeout = new CancellationTokenSource(Deadline);
            await process.WaitForExitAsync(timeout.Token);
            await pump;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Etcdctl_lock_waits_for_the_holder(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        await using var holder = new Background(server, "lock", "mylock");
        var held = await holder.WaitForLinesAsync(1);
        Assert.StartsWith("mylock/", held[0]);

        var waiter = Tool.EtcdctlAsync(server, null, "lock", "mylock", "--", "echo", "got");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(waiter.IsCompleted, (waiter.IsCompleted ? (await waiter).ToString() : ""));
        await holder.InterruptAsync();
        var result = await waiter.WaitAsync(Deadline);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("got\n", result.Stdout);
    }

    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Etcdctl_elect_and_observe(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        await using var first = new Background(server, "elect", "myelection", "p1");
        var campaign = await first.WaitForLinesAsync(2);
        Assert.StartsWith("myelection/", campaign[0]);
        Assert.Equal("p1", campaign[1]);

        await using var observer = new Background(server, "elect", "-l", "myelection");
        var observed = await observer.WaitForLinesAsync(2);
        Assert.Equal(campaign[..2], observed[..2]);

        await using var second = new Background(server, "elect", "myelection", "p2");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Empty(second.Lines);
        await first.InterruptAsync();
        var next = await second.WaitForLinesAsync(2);
        Assert.Equal("p2", next[1]);
        observed = await observer.WaitForLinesAsync(4);
        Assert.Equal(next[..2], observed[2..4]);
    }

    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Lock_service_over_grpc(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Url);
        var leases = new Etcdserverpb.Lease.LeaseClient(channel);
        var locks = new V3Lockpb.Lock.LockClient(channel);
        var kv = new Etcdserverpb.KV.KVClient(channel);
        var lease1 = (await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        var lease2 = (await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        var name = ByteString.CopyFromUtf8("grpclock");

        var first = await locks.LockAsync(new V3Lockpb.LockRequest { Name = name, Lease = lease1 }).ResponseAsync.WaitAsync(Deadline);
        Assert.Equal($"grpclock/{lease1:x}", first.Key.ToStringUtf8());
        var got = await kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = first.Key });
        Assert.Equal(lease1, got.Kvs[0].Lease);

        var second = locks.LockAsync(new V3Lockpb.LockRequest { Name = name, Lease = lease2 }).ResponseAsync;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(second.IsCompleted);
        var unlocked = await locks.UnlockAsync(new V3Lockpb.UnlockRequest { Key = first.Key });
        Assert.True(unlocked.Header.Revision > 0);
        Assert.Equal($"grpclock/{lease2:x}", (await second.WaitAsync(Deadline)).Key.ToStringUtf8());

        // A waiter whose lease is revoked gives up its place: its key is gone with the lease.
        var lease3 = (await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        using var cancel = new CancellationTokenSource();
        var third = locks.LockAsync(new V3Lockpb.LockRequest { Name = name, Lease = lease3 }, cancellationToken: cancel.Token);
        await Task.Delay(TimeSpan.FromSeconds(1));
        cancel.Cancel();
        await Assert.ThrowsAsync<RpcException>(() => third.ResponseAsync);
        third.Dispose();
        await leases.LeaseRevokeAsync(new Etcdserverpb.LeaseRevokeRequest { ID = lease2 });
        var keys = await kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8("grpclock/"), RangeEnd = ByteString.CopyFromUtf8("grpclock0") });
        Assert.True(keys.Kvs.Count <= 1); // etcd may still hold the cancelled waiter's key until its lease expires
    }

    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Election_service_over_grpc(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Url);
        var leases = new Etcdserverpb.Lease.LeaseClient(channel);
        var election = new V3Electionpb.Election.ElectionClient(channel);
        var lease1 = (await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        var lease2 = (await leases.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        var name = ByteString.CopyFromUtf8("grpcelection");

        var noLeader = await Assert.ThrowsAsync<RpcException>(() => election.LeaderAsync(new V3Electionpb.LeaderRequest { Name = name }).ResponseAsync);
        Assert.Contains("election: no leader", noLeader.Status.Detail);

        var campaign = await election.CampaignAsync(new V3Electionpb.CampaignRequest { Name = name, Lease = lease1, Value = ByteString.CopyFromUtf8("v1") })
            .ResponseAsync.WaitAsync(Deadline);
        Assert.Equal(name, campaign.Leader.Name);
        Assert.Equal($"grpcelection/{lease1:x}", campaign.Leader.Key.ToStringUtf8());
        Assert.Equal(lease1, campaign.Leader.Lease);
        Assert.True(campaign.Leader.Rev > 0);

        using var observeCancel = new CancellationTokenSource(Deadline * 2);
        using var observe = election.Observe(new V3Electionpb.LeaderRequest { Name = name }, cancellationToken: observeCancel.Token);
        async Task<string> NextObservedAsync()
        {
            Assert.True(await observe.ResponseStream.MoveNext(observeCancel.Token));
            return observe.ResponseStream.Current.Kv.Value.ToStringUtf8();
        }
        Assert.Equal("v1", await NextObservedAsync());

        var leader = await election.LeaderAsync(new V3Electionpb.LeaderRequest { Name = name });
        Assert.Equal("v1", leader.Kv.Value.ToStringUtf8());
        Assert.Equal(campaign.Leader.Rev, leader.Kv.CreateRevision);

        await election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = campaign.Leader, Value = ByteString.CopyFromUtf8("v1b") });
        Assert.Equal("v1b", await NextObservedAsync());
        var stale = campaign.Leader.Clone();
        stale.Rev += 1000;
        var notLeader = await Assert.ThrowsAsync<RpcException>(() =>
            election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = stale, Value = ByteString.CopyFromUtf8("x") }).ResponseAsync);
        Assert.Contains("election: not leader", notLeader.Status.Detail);

        var second = election.CampaignAsync(new V3Electionpb.CampaignRequest { Name = name, Lease = lease2, Value = ByteString.CopyFromUtf8("v2") }).ResponseAsync;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(second.IsCompleted);
        await election.ResignAsync(new V3Electionpb.ResignRequest { Leader = campaign.Leader });
        var next = await second.WaitAsync(Deadline);
        Assert.Equal($"grpcelection/{lease2:x}", next.Leader.Key.ToStringUtf8());
        Assert.Equal("v2", await NextObservedAsync());
        observeCancel.Cancel();
    }

    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Lock_and_election_over_the_gateway(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(server.Url), Timeout = Deadline };
        static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var response = await http.PostAsJsonAsync(path, body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
            return JsonDocument.Parse(text).RootElement;
        }

        var lease = (await PostAsync("/v3/lease/grant", new { TTL = 60 })).GetProperty("ID").GetString()!;
        var locked = await PostAsync("/v3/lock/lock", new { name = B64("gwlock"), lease });
        var key = locked.GetProperty("key").GetString()!;
        Assert.Equal($"gwlock/{long.Parse(lease):x}", Encoding.UTF8.GetString(Convert.FromBase64String(key)));
        var unlocked = await PostAsync("/v3/lock/unlock", new { key });
        Assert.True(unlocked.GetProperty("header").TryGetProperty("revision", out _));

        var campaign = await PostAsync("/v3/election/campaign", new { name = B64("gwelection"), lease, value = B64("v1") });
        var leaderKey = campaign.GetProperty("leader");
        Assert.Equal(B64("gwelection"), leaderKey.GetProperty("name").GetString());
        await PostAsync("/v3/election/proclaim", new { leader = leaderKey, value = B64("v2") });
        var leader = await PostAsync("/v3/election/leader", new { name = B64("gwelection") });
        Assert.Equal(B64("v2"), leader.GetProperty("kv").GetProperty("value").GetString());
        using (var observe = new HttpRequestMessage(HttpMethod.Post, "/v3/election/observe") { Content = JsonContent.Create(new { name = B64("gwelection") }) })
        using (var stream = await http.SendAsync(observe, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.True(stream.IsSuccessStatusCode);
            using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
            var line = await reader.ReadLineAsync().WaitAsync(Deadline);
            var result = JsonDocument.Parse(line!).RootElement.GetProperty("result");
            Assert.Equal(B64("v2"), result.GetProperty("kv").GetProperty("value").GetString());
        }
        await PostAsync("/v3/election/resign", new { leader = leaderKey });
        using var none = await http.PostAsJsonAsync("/v3/election/leader", new { name = B64("gwelection") });
        Assert.False(none.IsSuccessStatusCode);
        Assert.Contains("election: no leader", await none.Content.ReadAsStringAsync());
    }

    /// <summary>Lock and Campaign with lease 0 get a lease the server granted (TTL 60 s, as etcd's v3lock and
    /// v3election sessions) that nobody keeps alive: the key lives on it.</summary>
    [Theory]
    [InlineData("httpkv")]
    [InlineData("etcd")]
    public async Task Lock_and_campaign_with_lease_0_hold_their_key_on_a_server_granted_60_s_lease(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Url);
        var leases = new Etcdserverpb.Lease.LeaseClient(channel);
        var kv = new Etcdserverpb.KV.KVClient(channel);
        var locked = await new V3Lockpb.Lock.LockClient(channel).LockAsync(new V3Lockpb.LockRequest { Name = ByteString.CopyFromUtf8("zerolock") })
            .ResponseAsync.WaitAsync(Deadline);
        var campaign = await new V3Electionpb.Election.ElectionClient(channel).CampaignAsync(new V3Electionpb.CampaignRequest
        {
            Name = ByteString.CopyFromUtf8("zeroelection"), Value = ByteString.CopyFromUtf8("v"),
        }).ResponseAsync.WaitAsync(Deadline);
        Assert.NotEqual(0, campaign.Leader.Lease);
        foreach (var key in new[] { locked.Key, campaign.Leader.Key })
        {
            var lease = Assert.Single((await kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = key })).Kvs).Lease;
            Assert.NotEqual(0, lease);
            Assert.EndsWith($"/{lease:x}", key.ToStringUtf8());
            var ttl = await leases.LeaseTimeToLiveAsync(new Etcdserverpb.LeaseTimeToLiveRequest { ID = lease });
            Assert.Equal(60, ttl.GrantedTTL);
            Assert.InRange(ttl.TTL, 30, 60);
        }
        Assert.Equal(campaign.Leader.Lease, (await kv.RangeAsync(new Etcdserverpb.RangeRequest { Key = campaign.Leader.Key })).Kvs[0].Lease);
    }

    /// <summary>The errors of the Election and Lock services, over gRPC (status code and text) and the gateway (JSON
    /// body), must be etcd's. etcd's services relay their internal client's error, so nearly all are code Unknown
    /// (HTTP 500 on etcd's gateway; HttpKv's answers a client's mistake with a 4xx). Lease IDs are masked; the rest of each answer is compared whole.</summary>
    [Fact]
    public async Task Election_and_lock_errors_over_grpc_and_the_gateway_are_etcds()
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        var expected = await ErrorTranscriptAsync(etcd, isHttpKv: false);
        var actual = await ErrorTranscriptAsync(httpKv, isHttpKv: true);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }

    private static async Task<List<string>> ErrorTranscriptAsync(ServerProcess server, bool isHttpKv)
    {
        using var channel = GrpcChannel.ForAddress(server.Url);
        using var http = new HttpClient { BaseAddress = new Uri(server.Url), Timeout = Deadline };
        var election = new V3Electionpb.Election.ElectionClient(channel);
        var locks = new V3Lockpb.Lock.LockClient(channel);
        var lease = (await new Etcdserverpb.Lease.LeaseClient(channel).LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 60 })).ID;
        var transcript = new List<string>();
        string Mask(string text) => text.Replace(lease.ToString("x"), "<LEASE>").Replace(lease.ToString(), "<LEASE>");
        async Task GrpcAsync<T>(string step, Func<Task<T>> call) where T : IMessage
        {
            try
            {
                var response = await call().WaitAsync(Deadline);
                var json = JsonDocument.Parse(JsonFormatter.Default.Format(response)).RootElement;
                transcript.Add(Mask($"grpc {step}: OK {Without(json, "header")}"));
            }
            catch (RpcException error)
            {
                transcript.Add(Mask($"grpc {step}: {error.StatusCode} {error.Status.Detail}"));
            }
        }
        async Task GatewayAsync(string step, string path, string body)
        {
            using var response = await http.PostAsync(path, new StringContent(Mask(body).Replace("<LEASE>", lease.ToString())));
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            // etcd's gateway answers every one of these with 500; HttpKv keeps its body but gives a client's mistake a
            // 4xx (docs/decisions.md): the transcript holds the body, the status is checked apart.
            transcript.Add(Mask($"gateway {step}: {(response.IsSuccessStatusCode ? "ok" : "error")} {Without(json, "header")}"));
            if (isHttpKv) Assert.True((int)response.StatusCode < 500, $"{step}: {(int)response.StatusCode}");
        }
        static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);
        var campaign = await election.CampaignAsync(new V3Electionpb.CampaignRequest { Name = Bytes("errs"), Lease = lease, Value = Bytes("v") })
            .ResponseAsync.WaitAsync(Deadline);
        var stale = campaign.Leader.Clone();
        stale.Rev += 100;
        var wrong = campaign.Leader.Clone();
        wrong.Key = Bytes("errs/nope");

        await GrpcAsync("leader of an election without one", () => election.LeaderAsync(new V3Electionpb.LeaderRequest { Name = Bytes("none") }).ResponseAsync);
        await GrpcAsync("leader without a name", () => election.LeaderAsync(new V3Electionpb.LeaderRequest()).ResponseAsync);
        await GrpcAsync("proclaim without a leader", () => election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Value = Bytes("x") }).ResponseAsync);
        await GrpcAsync("proclaim with an empty leader key", () => election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = new V3Electionpb.LeaderKey { Lease = lease }, Value = Bytes("x") }).ResponseAsync);
        await GrpcAsync("proclaim with a stale leader", () => election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = stale, Value = Bytes("x") }).ResponseAsync);
        await GrpcAsync("proclaim with a wrong key", () => election.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = wrong, Value = Bytes("x") }).ResponseAsync);
        await GrpcAsync("resign without a leader", () => election.ResignAsync(new V3Electionpb.ResignRequest()).ResponseAsync);
        await GrpcAsync("resign with an empty leader key", () => election.ResignAsync(new V3Electionpb.ResignRequest { Leader = new V3Electionpb.LeaderKey { Lease = lease } }).ResponseAsync);
        await GrpcAsync("resign with a stale leader", () => election.ResignAsync(new V3Electionpb.ResignRequest { Leader = stale }).ResponseAsync);
        await GrpcAsync("campaign with a missing lease", () => election.CampaignAsync(new V3Electionpb.CampaignRequest { Name = Bytes("errs2"), Lease = 12345, Value = Bytes("v") }).ResponseAsync);
        await GrpcAsync("lock with a missing lease", () => locks.LockAsync(new V3Lockpb.LockRequest { Name = Bytes("errlock"), Lease = 12345 }).ResponseAsync);
        await GrpcAsync("unlock without a key", () => locks.UnlockAsync(new V3Lockpb.UnlockRequest()).ResponseAsync);

        const string staleJson = """{"leader":{"name":"ZXJycw==","key":"ZXJycy9ub3Bl","rev":"1000","lease":"<LEASE>"},"value":"eA=="}""";
        await GatewayAsync("leader of an election without one", "/v3/election/leader", """{"name":"bm9uZQ=="}""");
        await GatewayAsync("leader without a name", "/v3/election/leader", "{}");
        await GatewayAsync("proclaim without a leader", "/v3/election/proclaim", """{"value":"eA=="}""");
        await GatewayAsync("proclaim with an empty leader key", "/v3/election/proclaim", """{"leader":{"lease":"<LEASE>"},"value":"eA=="}""");
        await GatewayAsync("proclaim with a stale leader", "/v3/election/proclaim", staleJson);
        await GatewayAsync("resign without a leader", "/v3/election/resign", "{}");
        await GatewayAsync("resign with an empty leader key", "/v3/election/resign", """{"leader":{"lease":"<LEASE>"}}""");
        await GatewayAsync("resign with a stale leader", "/v3/election/resign", staleJson);
        await GatewayAsync("campaign with a missing lease", "/v3/election/campaign", """{"name":"ZXJyczM=","lease":"12345","value":"dg=="}""");
        await GatewayAsync("lock with a missing lease", "/v3/lock/lock", """{"name":"ZXJybG9jaw==","lease":"12345"}""");
        await GatewayAsync("unlock without a key", "/v3/lock/unlock", "{}");
        // An empty name is the name "": the key is "/<lease>", as etcd.
        var unnamed = await election.CampaignAsync(new V3Electionpb.CampaignRequest { Lease = lease, Value = Bytes("v") }).ResponseAsync.WaitAsync(Deadline);
        transcript.Add(Mask($"grpc campaign without a name: key {unnamed.Leader.Key.ToStringUtf8()} name '{unnamed.Leader.Name.ToStringUtf8()}' rev {unnamed.Leader.Rev}"));
        return transcript;
    }

    /// <summary>The JSON object without one property, its properties sorted, as text.</summary>
    private static string Without(JsonElement json, string property) =>
        string.Join(",", json.EnumerateObject().Where(item => item.Name != property).OrderBy(item => item.Name, StringComparer.Ordinal)
            .Select(item => $"{item.Name}={JsonSerializer.Serialize(item.Value)}"));
}
