using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using static HttpKv.Compat.Tests.EtcdOracle;

namespace HttpKv.Compat.Tests;

/// <summary>Users, roles and permissions driven by real clients against the real HttpKv process, compared with etcd.</summary>
public sealed class AuthCompatTests
{
    private static readonly Step[] Setup =
    [
        Etcdctl("user", "add", "root:rootpw"),
        Etcdctl("user", "add", "alice:alicepw"),
        Etcdctl("role", "add", "r1"),
        Etcdctl("role", "grant-permission", "r1", "readwrite", "a/", "--prefix=true"),
        Etcdctl("role", "grant-permission", "r1", "read", "b"),
        Etcdctl("role", "grant-permission", "r1", "write", "c", "d"),
        Etcdctl("user", "grant-role", "alice", "r1"),
        Etcdctl("auth", "enable"),
    ];

    [Fact]
    public async Task Etcdctl_users_roles_and_permissions_print_as_against_etcd()
    {
        Step[] steps =
        [
            Etcdctl("auth", "enable"), // no root user yet
            .. Setup[..2],
            Etcdctl("user", "add", "alice:again"),
            .. Setup[2..7],
            Etcdctl("role", "get", "r1"),
            Etcdctl("user", "grant-role", "alice", "nosuch"),
            Etcdctl("user", "get", "alice"),
            Etcdctl("auth", "enable"), // root has no root role yet
            Etcdctl("user", "grant-role", "root", "root"),
            Etcdctl("auth", "enable"),
            Etcdctl("put", "a/1", "v"), // nobody
            Etcdctl("--user", "alice:alicepw", "put", "a/1", "v"),
            Etcdctl("--user", "alice:wrong", "put", "a/1", "v"),
            Etcdctl("--user", "alice:alicepw", "put", "a0", "v"), // the prefix boundary
            Etcdctl("--user", "alice:alicepw", "get", "b"),
            Etcdctl("--user", "alice:alicepw", "put", "b", "x"),
            Etcdctl("--user", "alice:alicepw", "get", "a/", "--prefix"),
            Etcdctl("--user", "alice:alicepw", "get", "a", "--prefix"),
            Etcdctl("--user", "alice:alicepw", "put", "c1", "v"),
            Etcdctl("--user", "alice:alicepw", "get", "c1"),
            EtcdctlWithInput("value(\"a/1\") = \"v\"\n\nput a/2 y\n\n", "--user", "alice:alicepw", "txn"),
            EtcdctlWithInput("value(\"zz\") = \"v\"\n\nput a/2 y\n\n", "--user", "alice:alicepw", "txn"),
            EtcdctlWithInput("value(\"a/1\") = \"v\"\n\nput a/2 y\n\nput zz y\n\n", "--user", "alice:alicepw", "txn"),
            Etcdctl("--user", "alice:alicepw", "watch", "zz"), // refused: etcdctl prints the cancel reason and exits
            Etcdctl("--user", "alice:alicepw", "user", "list"),
            Etcdctl("--user", "root:rootpw", "user", "list"),
            Etcdctl("--user", "root:rootpw", "role", "list"),
            Etcdctl("--user", "alice:alicepw", "user", "get", "alice"),
            Etcdctl("--user", "alice:alicepw", "role", "get", "r1"),
            Etcdctl("--user", "root:rootpw", "role", "revoke-permission", "r1", "b"),
            Etcdctl("--user", "root:rootpw", "role", "revoke-permission", "r1", "b"),
            Etcdctl("--user", "alice:alicepw", "get", "b"),
            Etcdctl("--user", "root:rootpw", "user", "delete", "root"),
            Etcdctl("--user", "root:rootpw", "user", "revoke-role", "root", "root"),
            Etcdctl("--user", "root:rootpw", "role", "delete", "root"),
            Etcdctl("--user", "root:rootpw", "user", "get", "nobody"),
            Etcdctl("--user", "root:rootpw", "user", "passwd", "alice", "--interactive=false"),
            Etcdctl("--user", "root:rootpw", "member", "list", "-w", "json"),
            Etcdctl("--user", "root:rootpw", "auth", "disable"),
            Etcdctl("get", "a/", "--prefix"),
        ];
        steps[^4] = EtcdctlWithInput("newpw\n", steps[^4].Arguments);
        var (etcd, httpKv) = await CompareAsync(steps);
        for (var i = 0; i < steps.Length; i++)
        {
            if (steps[i].Arguments.Contains("member")) continue; // IDs and URLs differ; it must succeed on both
            Assert.True(etcd[i] == httpKv[i], $"step {i}:\n--- etcd\n{etcd[i]}\n--- httpkv\n{httpKv[i]}");
        }
        Assert.Contains("exit 0", httpKv[^3]);
    }

    [Fact]
    public async Task Users_roles_and_the_auth_switch_survive_a_restart()
    {
        await using var server = ServerProcess.HttpKv("--bcrypt-cost", "4");
        await server.StartAsync();
        foreach (var step in Setup.Append(Etcdctl("user", "grant-role", "root", "root")).OrderBy(step => step.Arguments[0] == "auth"))
        {
            var setup = await Tool.EtcdctlAsync(server, null, step.Arguments);
            Assert.True(setup.ExitCode == 0, $"{step}: {setup}");
        }
        await server.KillAsync();
        await server.StartAsync();

        using var http = new HttpClient();
        var status = await http.PostAsJsonAsync($"{server.Url}/v3/auth/status", new { });
        Assert.True((bool)JsonNode.Parse(await status.Content.ReadAsStringAsync())!["enabled"]!);
        Assert.Equal(0, (await Tool.EtcdctlAsync(server, null, "--user", "alice:alicepw", "put", "a/1", "v")).ExitCode);
        var denied = await Tool.EtcdctlAsync(server, null, "--user", "alice:alicepw", "put", "a0", "v");
        Assert.Contains("Error: etcdserver: permission denied", denied.Stderr);
        var anonymous = await Tool.EtcdctlAsync(server, null, "get", "a/1");
        Assert.Contains("Error: etcdserver: user name is empty", anonymous.Stderr);
    }

    [Fact]
    public async Task A_cluster_agrees_on_users_and_a_token_from_one_member_works_on_another()
    {
        await using var cluster = ClusterProcess.Create("httpkv");
        await cluster.StartAsync();
        foreach (var step in Setup.Append(Etcdctl("user", "grant-role", "root", "root")).OrderBy(step => step.Arguments[0] == "auth"))
        {
            var setup = await Tool.EtcdctlAtAsync(cluster[0].Endpoint, step.Arguments);
            Assert.True(setup.ExitCode == 0, $"{step}: {setup}");
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var login = await http.PostAsJsonAsync($"{cluster[1].Url}/v3/auth/authenticate", new { name = "alice", password = "alicepw" });
        var token = (string)JsonNode.Parse(await login.Content.ReadAsStringAsync())!["token"]!;
        foreach (var member in cluster.Members)
        {
            using var put = new HttpRequestMessage(HttpMethod.Post, $"{member.Url}/v3/kv/put")
            {
                Content = JsonContent.Create(new { key = B64("a/" + member.ClientPort), value = B64("v") }),
            };
            put.Headers.TryAddWithoutValidation("Authorization", token);
            using var answer = await http.SendAsync(put);
            Assert.True(answer.IsSuccessStatusCode, $"{member.Url}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }
        var denied = await Tool.EtcdctlAtAsync(cluster[2].Endpoint, "--user", "alice:alicepw", "get", "zz");
        Assert.True(denied.Stderr.Contains("Error: etcdserver: permission denied", StringComparison.Ordinal), $"{denied}\n{cluster[2].Output}");
    }

    [Fact]
    public async Task Jwt_tokens_are_signed_with_the_configured_key_and_accepted_by_etcdctl()
    {
        var keys = Directory.CreateTempSubdirectory("httpkv-jwt-").FullName;
        try
        {
            using (var rsa = RSA.Create(2048))
            {
                await File.WriteAllTextAsync(Path.Combine(keys, "jwt.key"), rsa.ExportPkcs8PrivateKeyPem());
                await File.WriteAllTextAsync(Path.Combine(keys, "jwt.pub"), rsa.ExportSubjectPublicKeyInfoPem());
            }
            await using var server = ServerProcess.HttpKv("--bcrypt-cost", "4",
                "--auth-token", $"jwt,pub-key={keys}/jwt.pub,priv-key={keys}/jwt.key,sign-method=RS256,ttl=10m");
            await server.StartAsync();
            foreach (var step in Setup.Append(Etcdctl("user", "grant-role", "root", "root")).OrderBy(step => step.Arguments[0] == "auth"))
                Assert.Equal(0, (await Tool.EtcdctlAsync(server, null, step.Arguments)).ExitCode);
            using var http = new HttpClient();
            var login = await http.PostAsJsonAsync($"{server.Url}/v3/auth/authenticate", new { name = "alice", password = "alicepw" });
            var token = (string)JsonNode.Parse(await login.Content.ReadAsStringAsync())!["token"]!;
            Assert.Equal(3, token.Split('.').Length);
            var payload = JsonNode.Parse(Convert.FromBase64String(Pad(token.Split('.')[1])))!;
            Assert.Equal("alice", (string)payload["username"]!);
            Assert.Equal(0, (await Tool.EtcdctlAsync(server, null, "--user", "alice:alicepw", "put", "a/1", "v")).ExitCode);
            Assert.Contains("permission denied", (await Tool.EtcdctlAsync(server, null, "--user", "alice:alicepw", "put", "a0", "v")).Stderr);
        }
        finally
        {
            Directory.Delete(keys, recursive: true);
        }
    }

    /// <summary>A certificate as the JWT public key (etcd reads a CERTIFICATE PEM as its key) starts the member and
    /// its tokens work; a key file the member cannot use stops it at start with one line naming the file and why, and
    /// no stack trace, whether the file is missing or holds a key of the wrong kind.</summary>
    [Fact]
    public async Task Jwt_key_files_are_taken_as_etcd_takes_them_and_an_unusable_one_stops_the_member_with_one_line()
    {
        var keys = Directory.CreateTempSubdirectory("httpkv-jwt-").FullName;
        try
        {
            using (var rsa = RSA.Create(2048))
            {
                var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=server", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
                await File.WriteAllTextAsync(Path.Combine(keys, "server.crt"), certificate.ExportCertificatePem());
                await File.WriteAllTextAsync(Path.Combine(keys, "server.key"), rsa.ExportRSAPrivateKeyPem()); // PKCS#1
            }
            using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                await File.WriteAllTextAsync(Path.Combine(keys, "ec.pub"), ec.ExportSubjectPublicKeyInfoPem());

            await using (var server = ServerProcess.HttpKv("--bcrypt-cost", "4",
                             "--auth-token", $"jwt,pub-key={keys}/server.crt,priv-key={keys}/server.key,sign-method=RS256"))
            {
                await server.StartAsync();
                foreach (var step in Setup.Append(Etcdctl("user", "grant-role", "root", "root")).OrderBy(step => step.Arguments[0] == "auth"))
                    Assert.Equal(0, (await Tool.EtcdctlAsync(server, null, step.Arguments)).ExitCode);
                Assert.Equal(0, (await Tool.EtcdctlAsync(server, null, "--user", "alice:alicepw", "put", "a/1", "v")).ExitCode);
            }

            foreach (var (authToken, reason) in new[]
                     {
                         ($"jwt,pub-key={keys}/missing.pub,priv-key={keys}/server.key,sign-method=RS256", $"--auth-token jwt pub-key {keys}/missing.pub: "),
                         ($"jwt,pub-key={keys}/ec.pub,priv-key={keys}/server.key,sign-method=RS256", $"--auth-token jwt pub-key {keys}/ec.pub: no RSA public or private key"),
                     })
            {
                await using var server = ServerProcess.HttpKv("--auth-token", authToken);
                await Assert.ThrowsAsync<InvalidOperationException>(server.StartAsync); // exited instead of becoming ready
                Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
                var lines = server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.True(lines.Length == 1 && lines[0].Contains("failed to start: " + reason, StringComparison.Ordinal), server.Output);
            }
        }
        finally
        {
            Directory.Delete(keys, recursive: true);
        }
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Pad(string base64Url)
    {
        var text = base64Url.Replace('-', '+').Replace('_', '/');
        return text + new string('=', (4 - text.Length % 4) % 4);
    }
}
