using System.Text;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Grpc.Core;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>The Lease routes and gRPC service on a one-member cluster.</summary>
public sealed class LeaseGatewayTests : MemberTest
{
    [Fact]
    public async Task Grant_put_timetolive_with_keys_leases_and_revoke()
    {
        var grant = await Client.PostOkAsync("/v3/lease/grant", new { TTL = 60, ID = 1000 });
        Assert.Equal("1000", (string)grant["ID"]!);
        Assert.Equal("60", (string)grant["TTL"]!);
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("a"), value = B64("1"), lease = 1000 });
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("b"), value = B64("2"), lease = 1000 });

        var ttl = await Client.PostOkAsync("/v3/lease/timetolive", new { ID = 1000, keys = true });
        Assert.Equal("60", (string)ttl["grantedTTL"]!);
        Assert.InRange(long.Parse((string)ttl["TTL"]!), 1, 60);
        Assert.Equal(["a", "b"], ttl["keys"]!.AsArray().Select(Text));
        var alias = await Client.PostOkAsync("/v3/kv/lease/timetolive", new { ID = 1000 });
        Assert.Null(alias["keys"]);

        var leases = await Client.PostOkAsync("/v3/lease/leases", new { });
        Assert.Equal("1000", (string)Assert.Single(leases["leases"]!.AsArray())!["ID"]!);
        Assert.Single((await Client.PostOkAsync("/v3/kv/lease/leases", new { }))["leases"]!.AsArray());

        var range = await Client.PostOkAsync("/v3/kv/range", new { key = B64("a") });
        Assert.Equal("1000", (string)range["kvs"]![0]!["lease"]!);

        var revoke = await Client.PostOkAsync("/v3/lease/revoke", new { ID = 1000 });
        var empty = await Client.PostOkAsync("/v3/kv/range", new { key = B64("a"), range_end = B64("c") });
        Assert.Null(empty["kvs"]);
        Assert.Equal((string)revoke["header"]!["revision"]!, (string)empty["header"]!["revision"]!);

        var gone = await Client.PostOkAsync("/v3/lease/timetolive", new { ID = 1000 });
        Assert.Equal("-1", (string)gone["TTL"]!);
        var (status, error) = await Client.PostAsync("/v3/kv/lease/revoke", """{"ID":1000}""");
        Assert.Equal(404, status);
        Assert.Equal("etcdserver: requested lease not found", (string)error["error"]!);
    }

    [Fact]
    public async Task Errors_are_etcds()
    {
        var (status, error) = await Client.PostAsync("/v3/kv/put", $$"""{"key":"{{B64("k")}}","value":"","lease":"77"}""");
        Assert.Equal(404, status);
        Assert.Equal("etcdserver: requested lease not found", (string)error["error"]!);

        await Client.PostOkAsync("/v3/lease/grant", new { TTL = 10, ID = 5 });
        (status, error) = await Client.PostAsync("/v3/lease/grant", """{"TTL":10,"ID":5}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: lease already exists", (string)error["error"]!);

        (status, error) = await Client.PostAsync("/v3/lease/grant", """{"TTL":"9000000001"}""");
        Assert.Equal(400, status);
        Assert.Equal("etcdserver: too large lease TTL", (string)error["error"]!);
    }

    [Fact]
    public async Task A_lease_id_above_2_to_the_53_is_read_exactly_from_a_json_number()
    {
        await Client.PostOkAsync("/v3/lease/grant", new { TTL = 30, ID = 9007199254740993 });
        await Client.PostOkAsync("/v3/kv/put", new { key = B64("big"), value = B64("1"), lease = 9007199254740993 });
        var ttl = await Client.PostOkAsync("/v3/kv/lease/timetolive", new { ID = 9007199254740993, keys = true });
        Assert.Equal("9007199254740993", (string)ttl["ID"]!);
        Assert.Equal(["big"], ttl["keys"]!.AsArray().Select(Text));
    }

    [Fact]
    public async Task A_ttl_below_the_minimum_is_raised_and_an_id_is_assigned()
    {
        var grant = await Client.PostOkAsync("/v3/lease/grant", new { TTL = 1 });
        Assert.Equal("2", (string)grant["TTL"]!);
        Assert.True(long.Parse((string)grant["ID"]!) > 0);
    }

    [Fact]
    public async Task Keepalive_streams_one_result_per_request()
    {
        await Client.PostOkAsync("/v3/lease/grant", new { TTL = 30, ID = 9 });
        using var content = new StringContent("{\"ID\":\"9\"}\n{\"ID\":\"8\"}", Encoding.UTF8);
        using var response = await Client.PostAsync("/v3/lease/keepalive", content);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var first = JsonNode.Parse(lines[0])!["result"]!;
        Assert.Equal("9", (string)first["ID"]!);
        Assert.Equal("30", (string)first["TTL"]!);
        var second = JsonNode.Parse(lines[1])!["result"]!;
        Assert.Equal("8", (string)second["ID"]!);
        Assert.Null(second["TTL"]); // 0: the lease does not exist
    }

    [Fact]
    public async Task Grpc_lease_service_keeps_alive_over_a_stream()
    {
        using var channel = Factory.CreateGrpcChannel();
        var leases = new Lease.LeaseClient(channel);
        var grant = await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 20 });
        using (var call = leases.LeaseKeepAlive())
        {
            for (var i = 0; i < 3; i++)
            {
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = grant.ID });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                Assert.Equal(20, call.ResponseStream.Current.TTL);
                Assert.Equal(grant.ID, call.ResponseStream.Current.ID);
            }
            await call.RequestStream.CompleteAsync();
        }
        var ttl = await leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = grant.ID });
        Assert.Equal(20, ttl.GrantedTTL);
        await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = grant.ID });
        var missing = await Assert.ThrowsAsync<RpcException>(() => leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = grant.ID }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal("etcdserver: requested lease not found", missing.Status.Detail);
    }
}

/// <summary>Lease expiry on a member whose clock the test moves (so the lease's TTL passes without waiting for it).</summary>
public sealed class LeaseExpiryTests
{
    [Fact]
    public async Task An_expired_lease_deletes_its_keys()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = new HttpKvFactory().WithTime(clock);
        using var client = factory.CreateClient();
        await client.PostOkAsync("/v3/lease/grant", new { TTL = 2, ID = 3 });
        await client.PostOkAsync("/v3/kv/put", new { key = B64("x"), value = B64("1"), lease = 3 });
        clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal("1", (string)(await client.PostOkAsync("/v3/lease/timetolive", new { ID = 3 }))["TTL"]!); // 1.1 s, rounded down
        clock.Advance(TimeSpan.FromMilliseconds(1000));
        Assert.NotNull((await client.PostOkAsync("/v3/kv/range", new { key = B64("x") }))["kvs"]); // 0.1 s before its TTL runs out
        clock.Advance(TimeSpan.FromMilliseconds(700)); // past the TTL and the leader's next expiry round
        var waited = System.Diagnostics.Stopwatch.StartNew(); // for the revoke through the log, the clock standing still
        while ((await client.PostOkAsync("/v3/kv/range", new { key = B64("x") }))["kvs"] is not null)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), "the expired lease's key was not deleted");
            await Task.Delay(10);
        }
        Assert.Equal("-1", (string)(await client.PostOkAsync("/v3/lease/timetolive", new { ID = 3 }))["TTL"]!);
    }
}
