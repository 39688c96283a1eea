using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Grpc.Core;
using static HttpKv.Tests.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>Maintenance.Snapshot over gRPC and /v3/maintenance/snapshot: chunks of at most 32 KiB with remaining_bytes
/// counting down to 0, then the SHA-256 of every byte before it; root only once auth is on (etcd's IsAdminPermitted).</summary>
public sealed class SnapshotGatewayTests : MemberTest
{
    private async Task FillAsync()
    {
        // Values large enough that the database takes several 32 KiB chunks.
        var value = Convert.ToBase64String(Encoding.UTF8.GetBytes(new string('v', 2000)));
        for (var i = 0; i < 60; i++) await Client.PostOkAsync("/v3/kv/put", new { key = B64($"k{i:D3}"), value });
    }

    private static void AssertSnapshot(IReadOnlyList<(ulong Remaining, byte[] Blob)> messages)
    {
        Assert.True(messages.Count >= 3, $"only {messages.Count} messages");
        var data = messages.Take(messages.Count - 1).ToList();
        var total = data.Sum(message => (long)message.Blob.Length);
        long sent = 0;
        foreach (var (remaining, blob) in data)
        {
            Assert.InRange(blob.Length, 1, 32 * 1024);
            sent += blob.Length;
            Assert.Equal((ulong)(total - sent), remaining);
        }
        var (lastRemaining, digest) = messages[^1];
        Assert.Equal(0UL, lastRemaining);
        Assert.Equal(SHA256.HashData(data.SelectMany(message => message.Blob).ToArray()), digest);
        Assert.Equal(0, total % 4096); // a whole number of LMDB pages, so saved with its digest the file is 32 past a multiple of 512
    }

    [Fact]
    public async Task The_json_stream_sends_the_database_in_chunks_and_then_its_sha256()
    {
        await FillAsync();
        using var response = await Client.PostAsync("/v3/maintenance/snapshot", new StringContent("{}"));
        Assert.Equal(200, (int)response.StatusCode);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var messages = lines.Select(line => JsonNode.Parse(line)!["result"]!)
            .Select(result => (result["remaining_bytes"] is { } remaining ? ulong.Parse((string)remaining!) : 0UL,
                Convert.FromBase64String((string?)result["blob"] ?? "")))
            .ToList();
        AssertSnapshot(messages);
        Assert.NotNull(JsonNode.Parse(lines[0])!["result"]!["header"]);
    }

    [Fact]
    public async Task The_grpc_stream_sends_the_same_framing()
    {
        await FillAsync();
        using var channel = Factory.CreateGrpcChannel();
        using var call = new Maintenance.MaintenanceClient(channel).Snapshot(new SnapshotRequest());
        var messages = new List<(ulong, byte[])>();
        await foreach (var message in call.ResponseStream.ReadAllAsync()) messages.Add((message.RemainingBytes, message.Blob.ToByteArray()));
        AssertSnapshot(messages);
        // The copy is a temporary file in the snap dir, gone once the stream ended.
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Factory.DataDir, "member", "snap"), "send-*"));
    }

    [Fact]
    public async Task With_auth_on_only_root_may_take_a_snapshot()
    {
        await Client.PostOkAsync("/v3/auth/user/add", new { name = "root", password = "rootpw" });
        await Client.PostOkAsync("/v3/auth/user/grant", new { user = "root", role = "root" });
        await Client.PostOkAsync("/v3/auth/role/add", new { name = "all" });
        await Client.PostOkAsync("/v3/auth/role/grant", new { name = "all", perm = new { permType = "READWRITE", key = B64("\0"), range_end = B64("\0") } });
        await Client.PostOkAsync("/v3/auth/user/add", new { name = "alice", password = "alicepw" });
        await Client.PostOkAsync("/v3/auth/user/grant", new { user = "alice", role = "all" });
        await Client.PostOkAsync("/v3/auth/enable", new { });

        async Task<(int Status, string Body)> SnapshotAsync(string? user, string? password)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v3/maintenance/snapshot") { Content = new StringContent("{}") };
            if (user is not null)
            {
                var token = (string)(await Client.PostOkAsync("/v3/auth/authenticate", new { name = user, password }))["token"]!;
                request.Headers.TryAddWithoutValidation("Authorization", token);
            }
            using var response = await Client.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var (status, body) = await SnapshotAsync("alice", "alicepw");
        Assert.Equal(403, status);
        Assert.Contains("etcdserver: permission denied", body);
        (status, body) = await SnapshotAsync(null, null);
        Assert.Equal(400, status);
        Assert.Contains("etcdserver: user name is empty", body);
        (status, body) = await SnapshotAsync("root", "rootpw");
        Assert.Equal(200, status);
        Assert.Contains("\"blob\"", body);

        using var channel = Factory.CreateGrpcChannel();
        var aliceToken = (string)(await Client.PostOkAsync("/v3/auth/authenticate", new { name = "alice", password = "alicepw" }))["token"]!;
        using var call = new Maintenance.MaintenanceClient(channel).Snapshot(new SnapshotRequest(), new Metadata { { "token", aliceToken } });
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal("etcdserver: permission denied", refused.Status.Detail);
    }
}
