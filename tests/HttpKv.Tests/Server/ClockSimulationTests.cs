using System.Text.Json;
using System.Text.Json.Nodes;
using HttpKv.Tests.Api;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Server;

/// <summary>One member on a fake clock, driven by a seeded random walk of lease grants, keep-alives, token uses and
/// clock steps, judged against a model of when each lease and token expires: a lease's key is there until its TTL
/// has run out since its last renewal, and gone once the leader's next expiry round after that has run; a simple
/// token works until <c>--auth-token-ttl</c> has passed since its last use, and not after. Only the test moves the
/// clock, so a seed replays the same steps at the same instants (HTTPKV_CLOCK_SEEDS=N runs N seeds).</summary>
public sealed class ClockSimulationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TokenTtl = TimeSpan.FromSeconds(2);
    /// <summary>How often the leader looks for expired leases (the member's LeaseExpiry interval).</summary>
    private static readonly TimeSpan ExpiryRound = TimeSpan.FromMilliseconds(500);
    /// <summary>Instants this close to a deadline are not judged: the member may count the boundary either way.</summary>
    private static readonly TimeSpan Boundary = TimeSpan.FromMilliseconds(2);
    private const int Steps = 60;

    public static TheoryData<int> Seeds =>
        [.. Enumerable.Range(1, int.TryParse(Environment.GetEnvironmentVariable("HTTPKV_CLOCK_SEEDS"), out var n) && n > 0 ? n : 3)];

    private sealed record Lease(long Id, string Key, long Ttl)
    {
        /// <summary>When its TTL runs out, counted from its grant or last keep-alive.</summary>
        public TimeSpan ExpiresAt { get; set; }
    }

    private sealed class Token(string user, string password)
    {
        public string User { get; } = user;
        public string Password { get; } = password;
        public string Value { get; set; } = "";
        public TimeSpan LastUse { get; set; }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Leases_and_tokens_expire_when_the_members_clock_says_and_never_before(int seed)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var factory = new HttpKvFactory(new Dictionary<string, string>
        {
            ["HttpKv:BcryptCost"] = "4",
            ["HttpKv:AuthTokenTtl"] = ((int)TokenTtl.TotalSeconds).ToString(),
        }).WithTime(clock);
        using var client = factory.CreateClient();
        await client.PostOkAsync("/v3/auth/user/add", new { name = "root", password = "rootpw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "root", role = "root" });
        await client.PostOkAsync("/v3/auth/user/add", new { name = "alice", password = "alicepw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "alice", role = "root" });
        await client.PostOkAsync("/v3/auth/enable", new { });

        var random = new Random(seed);
        var now = TimeSpan.Zero; // since the start of the walk, on the fake clock
        var root = new Token("root", "rootpw");
        var alice = new Token("alice", "alicepw");
        await AuthenticateAsync(client, root, now);
        await AuthenticateAsync(client, alice, now);
        var leases = new List<Lease>();
        var nextLease = 1L;
        var log = new List<string>();
        try
        {
            for (var step = 0; step < Steps; step++)
            {
                switch (random.Next(10))
                {
                    case < 4:
                        var by = TimeSpan.FromMilliseconds(random.Next(1, 1500));
                        clock.Advance(by);
                        now += by;
                        log.Add($"{now.TotalMilliseconds:0} ms: clock +{by.TotalMilliseconds:0} ms");
                        break;
                    case < 6 when leases.Count < 8:
                        var seconds = random.Next(3, 7);
                        var lease = new Lease(nextLease, $"k{nextLease}", seconds) { ExpiresAt = now + TimeSpan.FromSeconds(seconds) };
                        nextLease++;
                        await CallAsRootAsync(client, root, now, "/v3/lease/grant", new { TTL = lease.Ttl, ID = lease.Id });
                        await CallAsRootAsync(client, root, now, "/v3/kv/put", new { key = B64(lease.Key), value = B64("v"), lease = lease.Id });
                        leases.Add(lease);
                        log.Add($"{now.TotalMilliseconds:0} ms: lease {lease.Id} granted, TTL {lease.Ttl} s");
                        break;
                    case < 8 when leases.Count > 0:
                        var renewed = leases[random.Next(leases.Count)];
                        if (Near(now, renewed.ExpiresAt)) break;
                        var ttl = await KeepAliveAsync(client, root, now, renewed.Id);
                        log.Add($"{now.TotalMilliseconds:0} ms: keep-alive of lease {renewed.Id}: TTL {ttl}");
                        if (now < renewed.ExpiresAt)
                        {
                            Assert.Equal(renewed.Ttl, ttl);
                            renewed.ExpiresAt = now + TimeSpan.FromSeconds(renewed.Ttl);
                        }
                        else
                        {
                            Assert.Equal(0, ttl); // expired: a keep-alive cannot bring it back
                        }
                        break;
                    default:
                        if (Near(now, alice.LastUse + TokenTtl)) break;
                        var (status, body) = await RangeAsync(client, alice.Value, "k");
                        log.Add($"{now.TotalMilliseconds:0} ms: alice's token, last used at {alice.LastUse.TotalMilliseconds:0} ms: {status}");
                        if (now <= alice.LastUse + TokenTtl)
                        {
                            Assert.True(status == 200, $"a token used {(now - alice.LastUse).TotalMilliseconds:0} ms ago was refused: {body}");
                            alice.LastUse = now;
                        }
                        else
                        {
                            Assert.Equal(401, status);
                            Assert.Equal("etcdserver: invalid auth token", (string)body["error"]!);
                            await AuthenticateAsync(client, alice, now);
                        }
                        break;
                }
                await CheckLeasesAsync(client, root, now, leases);
            }
        }
        catch
        {
            output.WriteLine($"seed {seed}, steps:\n  " + string.Join("\n  ", log));
            throw;
        }
        output.WriteLine($"seed {seed}: {log.Count} steps, {nextLease - 1} leases ({nextLease - 1 - leases.Count} expired), "
            + $"{log.Count(line => line.EndsWith(": 401"))} expired token uses, {log.Count(line => line.EndsWith("TTL 0"))} refused keep-alives, "
            + $"the clock at {now.TotalSeconds:0.0} s");
    }

    /// <summary>Each lease's key is there before its deadline and gone once an expiry round has run after it (the
    /// revoke goes through the log, so that is waited for, in real time, with the fake clock standing still).</summary>
    private static async Task CheckLeasesAsync(HttpClient client, Token root, TimeSpan now, List<Lease> leases)
    {
        foreach (var lease in leases.ToList())
        {
            if (now < lease.ExpiresAt - Boundary)
            {
                Assert.True(await KeyExistsAsync(client, root, now, lease.Key), $"lease {lease.Id}'s key is gone {(lease.ExpiresAt - now).TotalMilliseconds:0} ms before its TTL ran out");
            }
            else if (now > lease.ExpiresAt + ExpiryRound + Boundary)
            {
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (await KeyExistsAsync(client, root, now, lease.Key))
                {
                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), $"lease {lease.Id}'s key outlived its TTL by {(now - lease.ExpiresAt).TotalMilliseconds:0} ms of the clock");
                    await Task.Delay(10);
                }
                leases.Remove(lease);
            }
        }
    }

    private static bool Near(TimeSpan now, TimeSpan deadline) => (now - deadline).Duration() <= Boundary;

    private static async Task AuthenticateAsync(HttpClient client, Token token, TimeSpan now)
    {
        var answer = await client.PostOkAsync("/v3/auth/authenticate", new { name = token.User, password = token.Password });
        token.Value = (string)answer["token"]!;
        token.LastUse = now;
    }

    /// <summary>A call with root's token, authenticated again first when the token may have run out (root's own
    /// expiry is not what these calls judge; alice's token is).</summary>
    private static async Task<JsonObject> CallAsRootAsync(HttpClient client, Token root, TimeSpan now, string path, object body)
    {
        var (status, text) = await client.PostWithTokenAsync(path, JsonSerializer.Serialize(body), await RootTokenAsync(client, root, now));
        Assert.True(status == 200, $"{path} answered {status}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<string> RootTokenAsync(HttpClient client, Token root, TimeSpan now)
    {
        if (now >= root.LastUse + TokenTtl - Boundary) await AuthenticateAsync(client, root, now);
        root.LastUse = now; // the call about to be made renews it
        return root.Value;
    }

    private static async Task<bool> KeyExistsAsync(HttpClient client, Token root, TimeSpan now, string key) =>
        (await CallAsRootAsync(client, root, now, "/v3/kv/range", new { key = B64(key) }))["kvs"] is not null;

    /// <summary>One keep-alive through the gateway's stream: the TTL it answers (0 for a lease that is gone or expired).</summary>
    private static async Task<long> KeepAliveAsync(HttpClient client, Token root, TimeSpan now, long id)
    {
        var (status, text) = await client.PostWithTokenAsync("/v3/lease/keepalive", $"{{\"ID\":\"{id}\"}}", await RootTokenAsync(client, root, now));
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single();
        Assert.True(status == 200, line);
        var result = JsonNode.Parse(line)!["result"] ?? throw new Xunit.Sdk.XunitException($"keep-alive answered {line}");
        return result["TTL"] is { } ttl ? long.Parse((string)ttl!) : 0;
    }

    private static async Task<(int Status, JsonObject Body)> RangeAsync(HttpClient client, string token, string key)
    {
        var (status, text) = await client.PostWithTokenAsync("/v3/kv/range", JsonSerializer.Serialize(new { key = B64(key) }), token);
        return (status, JsonNode.Parse(text)!.AsObject());
    }
}
