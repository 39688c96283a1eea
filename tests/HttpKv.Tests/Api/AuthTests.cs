using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>Users, roles and key-range permissions through both doors of one in-process member: the same Authorizer
/// must answer the JSON routes and gRPC alike, with etcd's errors.</summary>
public sealed class AuthTests : IAsyncLifetime
{
    private readonly HttpKvFactory factory = new(new Dictionary<string, string> { ["HttpKv:BcryptCost"] = "4" });
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        client = factory.CreateClient();
        await client.EnableAuthWithAliceAsync();
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    private async Task<string> TokenAsync(string name, string password) =>
        (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name, password }))["token"]!;

    private async Task<(int Status, JsonObject Body)> CallAsync(string path, object body, string? authorization)
    {
        var (status, text) = await client.PostWithTokenAsync(path, System.Text.Json.JsonSerializer.Serialize(body), authorization);
        return (status, JsonNode.Parse(text)!.AsObject());
    }

    private static void AssertError((int Status, JsonObject Body) answer, int status, int code, string message)
    {
        Assert.True(answer.Status == status, $"expected {status}, got {answer.Status}: {answer.Body}");
        Assert.Equal(code, (int)answer.Body["code"]!);
        Assert.Equal(message, (string)answer.Body["error"]!);
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static object Put(string key) => new { request_put = new { key = B64(key), value = B64("x") } };

    [Fact]
    public async Task Http_callers_get_exactly_what_their_roles_grant()
    {
        var token = await TokenAsync("alice", "alicepw");
        Assert.Equal(200, (await CallAsync("/v3/kv/put", new { key = B64("a/1"), value = B64("v") }, token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/kv/put", new { key = B64("a/2"), value = B64("v") }, "Bearer " + token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/kv/range", new { key = B64("a/"), range_end = B64("a0") }, token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/kv/range", new { key = B64("b") }, token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/kv/put", new { key = B64("c1"), value = B64("v") }, token)).Status);

        const string denied = "etcdserver: permission denied";
        AssertError(await CallAsync("/v3/kv/put", new { key = B64("a0"), value = B64("v") }, token), 403, 7, denied); // the prefix boundary
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("a"), range_end = B64("b") }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/kv/put", new { key = B64("b"), value = B64("v") }, token), 403, 7, denied); // read-only
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("c1") }, token), 403, 7, denied); // write-only
        AssertError(await CallAsync("/v3/kv/put", new { key = B64("b"), value = B64("v"), prev_kv = true }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/kv/deleterange", new { key = B64("c"), range_end = B64("e") }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/kv/compaction", new { revision = "1" }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/auth/user/list", new { }, token), 403, 7, denied);

        // Every compare and every op of a txn, nested txns too.
        Assert.Equal(200, (await CallAsync("/v3/kv/txn", new { compare = new[] { new { key = B64("b"), target = "VERSION", version = "1" } }, success = new[] { Put("a/3") } }, token)).Status);
        AssertError(await CallAsync("/v3/kv/txn", new { compare = new[] { new { key = B64("zz"), target = "VERSION", version = "1" } }, success = new[] { Put("a/3") } }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/kv/txn", new { success = new[] { Put("a/3") }, failure = new[] { Put("zz") } }, token), 403, 7, denied);
        AssertError(await CallAsync("/v3/kv/txn", new { success = new object[] { Put("a/3"), new { request_txn = new { success = new[] { Put("zz") } } } } }, token), 403, 7, denied);
        var root = await TokenAsync("root", "rootpw");
        var all = await CallAsync("/v3/kv/range", new { key = B64("a/"), range_end = B64("a0") }, root);
        Assert.Equal("3", (string)all.Body["count"]!); // a/1, a/2 and a/3 — nothing of the refused ones

        // Admin calls answer root; a user may read itself and its roles.
        Assert.Equal(200, (await CallAsync("/v3/auth/user/list", new { }, root)).Status);
        Assert.Equal(200, (await CallAsync("/v3/auth/user/get", new { name = "alice" }, token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/auth/role/get", new { role = "r1" }, token)).Status);
        AssertError(await CallAsync("/v3/auth/user/get", new { name = "root" }, token), 403, 7, denied);
    }

    [Fact]
    public async Task Http_callers_without_a_valid_identity_are_refused_with_etcds_errors()
    {
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("b") }, null), 400, 3, "etcdserver: user name is empty");
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("b") }, "forged.7"), 401, 16, "etcdserver: invalid auth token");
        AssertError(await CallAsync("/v3/auth/authenticate", new { name = "alice", password = "wrong" }, null), 400, 3,
            "etcdserver: authentication failed, invalid user ID or password");
        AssertError(await CallAsync("/v3/auth/authenticate", new { name = "nobody", password = "x" }, null), 400, 3,
            "etcdserver: authentication failed, invalid user ID or password");

        // A changed password ends the user's tokens.
        var token = await TokenAsync("alice", "alicepw");
        var root = await TokenAsync("root", "rootpw");
        Assert.Equal(200, (await CallAsync("/v3/auth/user/changepw", new { name = "alice", password = "new" }, root)).Status);
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("b") }, token), 401, 16, "etcdserver: invalid auth token");
        Assert.Equal(200, (await CallAsync("/v3/kv/range", new { key = B64("b") }, await TokenAsync("alice", "new"))).Status);

        // Root cannot be taken apart while auth is on.
        AssertError(await CallAsync("/v3/auth/user/delete", new { name = "root" }, root), 400, 3, "etcdserver: invalid auth management");
        AssertError(await CallAsync("/v3/auth/user/revoke", new { name = "root", role = "root" }, root), 400, 3, "etcdserver: invalid auth management");
    }

    [Fact]
    public async Task A_revoked_permission_takes_effect_on_the_next_request()
    {
        var token = await TokenAsync("alice", "alicepw");
        var root = await TokenAsync("root", "rootpw");
        Assert.Equal(200, (await CallAsync("/v3/kv/range", new { key = B64("b") }, token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/auth/role/revoke", new { role = "r1", key = B64("b") }, root)).Status);
        AssertError(await CallAsync("/v3/kv/range", new { key = B64("b") }, token), 403, 7, "etcdserver: permission denied");
        AssertError(await CallAsync("/v3/auth/role/revoke", new { role = "r1", key = B64("b") }, root), 400, 9, "etcdserver: permission is not granted to the role");
        var status = await CallAsync("/v3/auth/status", new { }, null);
        Assert.True((bool)status.Body["enabled"]!);
    }

    [Fact]
    public async Task Grpc_callers_are_judged_by_the_same_rules_with_the_token_in_either_metadata_key()
    {
        using var channel = factory.CreateGrpcChannel();
        var auth = new Etcdserverpb.Auth.AuthClient(channel);
        var kv = new KV.KVClient(channel);
        var token = (await auth.AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        await kv.PutAsync(new PutRequest { Key = B("a/1"), Value = B("v") }, new Metadata { { "token", token } });
        await kv.PutAsync(new PutRequest { Key = B("a/2"), Value = B("v") }, new Metadata { { "authorization", "Bearer " + token } });

        var denied = await Assert.ThrowsAsync<RpcException>(() => kv.PutAsync(new PutRequest { Key = B("a0"), Value = B("v") }, new Metadata { { "token", token } }).ResponseAsync);
        Assert.Equal((StatusCode.PermissionDenied, "etcdserver: permission denied"), (denied.StatusCode, denied.Status.Detail));
        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("a/3") } });
        txn.Failure.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("b") } });
        denied = await Assert.ThrowsAsync<RpcException>(() => kv.TxnAsync(txn, new Metadata { { "token", token } }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => kv.RangeAsync(new RangeRequest { Key = B("b") }).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, "etcdserver: user name is empty"), (anonymous.StatusCode, anonymous.Status.Detail));
        var forged = await Assert.ThrowsAsync<RpcException>(() => kv.RangeAsync(new RangeRequest { Key = B("b") }, new Metadata { { "token", token + "x" } }).ResponseAsync);
        Assert.Equal((StatusCode.Unauthenticated, "etcdserver: invalid auth token"), (forged.StatusCode, forged.Status.Detail));
        var admin = await Assert.ThrowsAsync<RpcException>(() => new Cluster.ClusterClient(channel)
            .MemberRemoveAsync(new MemberRemoveRequest { ID = 1 }, new Metadata { { "token", token } }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, admin.StatusCode);
    }

    [Fact]
    public async Task A_watch_on_a_forbidden_range_is_cancelled_as_etcd_does_and_an_allowed_one_streams()
    {
        using var channel = factory.CreateGrpcChannel();
        var token = (await new Etcdserverpb.Auth.AuthClient(channel).AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        using var call = new Etcdserverpb.Watch.WatchClient(channel).Watch(new Metadata { { "token", token } });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("a"), RangeEnd = B("b") } });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        var refused = call.ResponseStream.Current;
        Assert.True(refused is { Created: true, Canceled: true, WatchId: -1 });
        Assert.Equal("rpc error: code = PermissionDenied desc = etcdserver: permission denied", refused.CancelReason);

        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("a/"), RangeEnd = B("a0") } });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        Assert.True(call.ResponseStream.Current is { Created: true, Canceled: false });
        await new KV.KVClient(channel).PutAsync(new PutRequest { Key = B("a/x"), Value = B("1") }, new Metadata { { "token", token } });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal("a/x", Assert.Single(call.ResponseStream.Current.Events).Kv.Key.ToStringUtf8());

        // The JSON stream and SSE check the same way.
        using var stream = new HttpRequestMessage(HttpMethod.Post, "/v3/watch")
        {
            Content = new StringContent("{\"create_request\":{\"key\":\"" + B64("zz") + "\"}}", Encoding.UTF8, "application/json"),
        };
        stream.Headers.TryAddWithoutValidation("Authorization", token);
        using var streamResponse = await client.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead);
        using var lines = new StreamReader(await streamResponse.Content.ReadAsStreamAsync(timeout.Token));
        var first = JsonNode.Parse((await lines.ReadLineAsync(timeout.Token))!)!["result"]!;
        Assert.True((bool)first["canceled"]! && (bool)first["created"]!, first.ToJsonString());
        Assert.Equal("rpc error: code = PermissionDenied desc = etcdserver: permission denied", (string)first["cancel_reason"]!);

        using var sse = new HttpRequestMessage(HttpMethod.Get, "/v3/watch/sse?key=zz");
        sse.Headers.TryAddWithoutValidation("Authorization", token);
        using var sseResponse = await client.SendAsync(sse, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(403, (int)sseResponse.StatusCode);
    }

    [Fact]
    public async Task Revoking_a_lease_needs_write_permission_on_every_key_it_holds()
    {
        var root = await TokenAsync("root", "rootpw");
        var token = await TokenAsync("alice", "alicepw");
        var grant = await CallAsync("/v3/lease/grant", new { TTL = "60" }, token); // etcd asks no permission to grant
        Assert.Equal(200, grant.Status);
        var id = (string)grant.Body["ID"]!;
        Assert.Equal(200, (await CallAsync("/v3/kv/put", new { key = B64("b2"), value = B64("v"), lease = id }, root)).Status);
        AssertError(await CallAsync("/v3/lease/revoke", new { ID = id }, token), 403, 7, "etcdserver: permission denied");
        AssertError(await CallAsync("/v3/kv/put", new { key = B64("a/l"), value = B64("v"), lease = id }, token), 403, 7, "etcdserver: permission denied");
        Assert.Equal(200, (await CallAsync("/v3/lease/revoke", new { ID = id }, root)).Status);
    }

    [Fact]
    public async Task Locks_and_elections_need_the_permissions_their_keys_need()
    {
        var token = await TokenAsync("alice", "alicepw");
        var locked = await CallAsync("/v3/lock/lock", new { name = B64("a/job"), lease = (string)(await CallAsync("/v3/lease/grant", new { TTL = "60" }, token)).Body["ID"]! }, token);
        Assert.True(locked.Status == 200, locked.Body.ToJsonString());
        Assert.StartsWith("a/job/", Text(locked.Body["key"]));
        Assert.Equal(200, (await CallAsync("/v3/lock/unlock", new { key = locked.Body["key"]!.GetValue<string>() }, token)).Status);
        AssertError(await CallAsync("/v3/lock/lock", new { name = B64("zz") }, token), 403, 7, "etcdserver: permission denied");
        AssertError(await CallAsync("/v3/election/campaign", new { name = B64("zz"), value = B64("me") }, token), 403, 7, "etcdserver: permission denied");
        AssertError(await CallAsync("/v3/election/leader", new { name = B64("b") }, token), 403, 7, "etcdserver: permission denied");
    }
}

/// <summary>A simple token ends once it has gone unused for --auth-token-ttl seconds of the member's clock.</summary>
public sealed class AuthTokenTtlTests : IAsyncLifetime
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider clock = new(DateTimeOffset.UtcNow);
    private readonly HttpKvFactory factory;
    private HttpClient client = null!;

    public AuthTokenTtlTests() =>
        factory = new HttpKvFactory(new Dictionary<string, string> { ["HttpKv:BcryptCost"] = "4", ["HttpKv:AuthTokenTtl"] = "1" }).WithTime(clock);

    public async Task InitializeAsync()
    {
        client = factory.CreateClient();
        await client.PostOkAsync("/v3/auth/user/add", new { name = "root", password = "pw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "root", role = "root" });
        await client.PostOkAsync("/v3/auth/enable", new { });
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    [Fact]
    public async Task An_idle_token_expires_and_each_use_renews_it()
    {
        var token = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        for (var use = 0; use < 3; use++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(900));
            var (status, _) = await client.PostWithTokenAsync("/v3/kv/range", "{\"key\":\"YQ==\"}", token);
            Assert.Equal(200, status); // 2.7 s after it was issued, but never 1 s unused
        }
        clock.Advance(TimeSpan.FromMilliseconds(1100));
        var (expired, body) = await client.PostWithTokenAsync("/v3/kv/range", "{\"key\":\"YQ==\"}", token);
        Assert.Equal(401, expired);
        Assert.Contains("etcdserver: invalid auth token", body);
    }
}

/// <summary>A JWT carries the auth revision it was minted at: any later change to users or roles makes it old, and
/// etcd's clients re-authenticate when told so.</summary>
public sealed class JwtAuthTests : IAsyncLifetime
{
    private readonly string keys = Directory.CreateTempSubdirectory("httpkv-jwt-").FullName;
    private HttpKvFactory factory = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            await File.WriteAllTextAsync(Path.Combine(keys, "jwt.key"), key.ExportPkcs8PrivateKeyPem());
            await File.WriteAllTextAsync(Path.Combine(keys, "jwt.pub"), key.ExportSubjectPublicKeyInfoPem());
        }
        factory = new HttpKvFactory(new Dictionary<string, string>
        {
            ["HttpKv:BcryptCost"] = "4",
            ["HttpKv:AuthToken"] = $"jwt,pub-key={keys}/jwt.pub,priv-key={keys}/jwt.key,sign-method=ES256,ttl=10m",
        });
        client = factory.CreateClient();
        await client.PostOkAsync("/v3/auth/user/add", new { name = "root", password = "pw" });
        await client.PostOkAsync("/v3/auth/user/grant", new { user = "root", role = "root" });
        await client.PostOkAsync("/v3/auth/enable", new { });
    }

    public async Task DisposeAsync()
    {
        await factory.DisposeAsync();
        Directory.Delete(keys, recursive: true);
    }

    private Task<(int Status, string Body)> CallAsync(string path, string json, string token) => client.PostWithTokenAsync(path, json, token);

    [Fact]
    public async Task A_jwt_minted_before_a_role_change_is_refused_as_old_and_a_new_one_works()
    {
        var token = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        Assert.Equal(3, token.Split('.').Length);
        Assert.Equal(200, (await CallAsync("/v3/kv/put", """{"key":"YQ==","value":"MQ=="}""", token)).Status);
        Assert.Equal(200, (await CallAsync("/v3/auth/role/add", """{"name":"r"}""", token)).Status); // raises the auth revision

        var old = await CallAsync("/v3/kv/put", """{"key":"YQ==","value":"Mg=="}""", token);
        Assert.Equal(400, old.Status);
        Assert.Contains("etcdserver: revision of auth store is old", old.Body);
        var fresh = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        Assert.Equal(200, (await CallAsync("/v3/kv/put", """{"key":"YQ==","value":"Mg=="}""", fresh)).Status);
    }

    /// <summary>The caller each door admitted reaches the proposal of every key write it makes, the lock and election
    /// services' own writes included: apply refuses a write whose proposal names no caller while auth is on ("user name
    /// is empty"), so each of these succeeds only if its door passed the caller on.</summary>
    [Fact]
    public async Task Every_door_s_key_writes_carry_the_caller_to_apply()
    {
        var token = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        foreach (var (path, json) in new[]
        {
            ("/v3/kv/put", """{"key":"YQ==","value":"MQ=="}"""),
            ("/v3/kv/txn", """{"success":[{"requestPut":{"key":"Yg==","value":"Mg=="}}]}"""),
            ("/v3/kv/deleterange", """{"key":"Yg=="}"""),
            ("/v3/lock/lock", """{"name":"bA=="}"""),
            ("/v3/election/campaign", """{"name":"ZQ==","value":"dg=="}"""),
        })
        {
            var (status, body) = await CallAsync(path, json, token);
            Assert.True(status == 200, $"{path}: {status} {body}");
        }
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(method, "/api/v1/keys/c") { Content = new StringContent("3") };
            request.Headers.TryAddWithoutValidation("Authorization", token);
            using var answer = await client.SendAsync(request);
            Assert.True(answer.IsSuccessStatusCode, $"REST {method}: {answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }

        using var channel = factory.CreateGrpcChannel();
        var metadata = new Metadata { { "token", token } };
        var kv = new KV.KVClient(channel);
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("d"), Value = ByteString.CopyFromUtf8("4") }, metadata);
        await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFromUtf8("d") }, metadata);
        var locked = await new V3Lockpb.Lock.LockClient(channel).LockAsync(new V3Lockpb.LockRequest { Name = ByteString.CopyFromUtf8("l2") }, metadata);
        await new V3Lockpb.Lock.LockClient(channel).UnlockAsync(new V3Lockpb.UnlockRequest { Key = locked.Key }, metadata);
        var elections = new V3Electionpb.Election.ElectionClient(channel);
        var campaign = await elections.CampaignAsync(new V3Electionpb.CampaignRequest { Name = ByteString.CopyFromUtf8("e2"), Value = ByteString.CopyFromUtf8("v") }, metadata);
        await elections.ProclaimAsync(new V3Electionpb.ProclaimRequest { Leader = campaign.Leader, Value = ByteString.CopyFromUtf8("w") }, metadata);
        await elections.ResignAsync(new V3Electionpb.ResignRequest { Leader = campaign.Leader }, metadata);
    }

    /// <summary>The caller is the service's parameter, so a write is judged at apply by the auth revision its caller was
    /// admitted at: one admitted before a role change (the race between a door's check and the apply) is refused, as
    /// etcd refuses it, on the KV service and on the lock service's writes alike.</summary>
    [Fact]
    public async Task A_write_whose_caller_was_admitted_before_an_auth_change_is_refused_at_apply()
    {
        var token = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        var revision = ulong.Parse((string)(await client.PostOkAsync("/v3/auth/status", new { }))["authRevision"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(200, (await CallAsync("/v3/auth/role/add", """{"name":"r"}""", token)).Status); // raises the auth revision
        var admittedBefore = new HttpKv.Server.Auth.AuthInfo("root", revision);
        const string Old = "etcdserver: revision of auth store is old";

        var kv = factory.Services.GetRequiredService<HttpKv.Server.IKvService>();
        var put = new PutRequest { Key = ByteString.CopyFromUtf8("a"), Value = ByteString.CopyFromUtf8("1") };
        var refused = await Assert.ThrowsAsync<HttpKv.Protocol.EtcdException>(() => kv.PutAsync(put, admittedBefore, CancellationToken.None));
        Assert.Equal(HttpKv.Protocol.EtcdErrors.AuthOldRevision, refused.Error);
        var locks = factory.Services.GetRequiredService<HttpKv.Server.Concurrency.ILockService>();
        var relayed = await Assert.ThrowsAsync<HttpKv.Protocol.EtcdException>(() =>
            locks.LockAsync(new V3Lockpb.LockRequest { Name = ByteString.CopyFromUtf8("l") }, admittedBefore, CancellationToken.None));
        Assert.Equal((StatusCode.Unknown, Old), (relayed.Error.Code, relayed.Error.Message));

        await kv.PutAsync(put, admittedBefore with { Revision = revision + 1 }, CancellationToken.None); // admitted now: applied
        var fresh = (string)(await client.PostOkAsync("/v3/auth/authenticate", new { name = "root", password = "pw" }))["token"]!;
        var (_, read) = await CallAsync("/v3/kv/range", """{"key":"AA==","range_end":"AA=="}""", fresh);
        Assert.Contains("\"count\":\"1\"", read, StringComparison.Ordinal); // a, and no lock key
    }
}
