using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HttpKv.Server.Auth;

namespace HttpKv.Tests.Server;

public sealed class TokenProviderTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("httpkv-jwt-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void A_simple_token_names_its_user_until_it_idles_past_its_ttl_and_each_use_renews_it()
    {
        var clock = new ManualClock();
        var tokens = new SimpleTokens(TimeSpan.FromSeconds(300), clock);
        var token = tokens.Assign("alice", 3, "abcdefghijklmnop", 42);
        Assert.Equal("abcdefghijklmnop.42", token);
        clock.Advance(TimeSpan.FromSeconds(299));
        Assert.Equal(new AuthInfo("alice", 7), tokens.Info(token, 7)); // simple tokens stand for the current revision
        clock.Advance(TimeSpan.FromSeconds(299));
        Assert.NotNull(tokens.Info(token, 7)); // renewed by the last use
        clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Null(tokens.Info(token, 7));
        Assert.Null(tokens.Info("forged.1", 7));
    }

    [Fact]
    public void Invalidating_a_user_drops_only_that_users_tokens()
    {
        var tokens = new SimpleTokens(TimeSpan.FromMinutes(5), new ManualClock());
        var alice = tokens.Assign("alice", 1, SimpleTokens.NewPrefix(), 1);
        var bob = tokens.Assign("bob", 1, SimpleTokens.NewPrefix(), 2);
        tokens.InvalidateUser("alice");
        Assert.Null(tokens.Info(alice, 1));
        Assert.NotNull(tokens.Info(bob, 1));
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS384")]
    [InlineData("ES256")]
    [InlineData("HS256")]
    public void A_jwt_carries_user_and_revision_and_is_refused_when_forged_or_expired(string method)
    {
        var clock = new ManualClock();
        var (priv, pub) = WriteKeys(method);
        var tokens = TokenProviders.Create($"jwt,pub-key={pub},priv-key={priv},sign-method={method},ttl=5m", TimeSpan.FromMinutes(5), clock);
        var token = tokens.Assign("alice", 9, "unused", 1);
        Assert.Equal(new AuthInfo("alice", 9), tokens.Info(token, 12)); // the revision it was issued at, not the current one

        var parts = token.Split('.');
        var forgedPayload = Convert.ToBase64String("{\"exp\":99999999999,\"revision\":9,\"username\":\"root\"}"u8.ToArray())
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Null(tokens.Info($"{parts[0]}.{forgedPayload}.{parts[2]}", 12));
        Assert.Null(tokens.Info("not-a-jwt", 12));

        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Null(tokens.Info(token, 12));
    }

    [Fact]
    public void A_jwt_signed_by_another_key_is_refused()
    {
        var (priv1, pub1) = WriteKeys("RS256", "one");
        var (priv2, _) = WriteKeys("RS256", "two");
        var clock = new ManualClock();
        var ours = TokenProviders.Create($"jwt,pub-key={pub1},priv-key={priv1},sign-method=RS256", TimeSpan.FromMinutes(5), clock);
        var theirs = TokenProviders.Create($"jwt,priv-key={priv2},sign-method=RS256", TimeSpan.FromMinutes(5), clock);
        Assert.Null(ours.Info(theirs.Assign("root", 1, "", 1), 1));
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("simple,ttl=5m")]
    [InlineData("jwt,sign-method=RS256")]
    [InlineData("jwt,sign-method=XX256,priv-key=/dev/null")]
    [InlineData("jwt,sign-method=RS256,bogus=1")]
    public void Bad_auth_token_flags_are_refused_with_a_message(string flag) =>
        Assert.ThrowsAny<ArgumentException>(() => TokenProviders.Create(flag, TimeSpan.FromMinutes(5), TimeProvider.System));

    /// <summary>The key forms etcd (jwt-go) takes: PKCS#1, SEC1, PKCS#8 and SubjectPublicKeyInfo PEM, and a certificate as
    /// the public key.</summary>
    [Theory]
    [InlineData("RS256", "pkcs1", "certificate")]
    [InlineData("RS256", "pkcs8", "pkcs1-public")]
    [InlineData("PS256", "pkcs1", "spki")]
    [InlineData("ES256", "sec1", "certificate")]
    [InlineData("ES384", "pkcs8", "spki")]
    public void Jwt_keys_are_read_in_the_forms_etcd_reads(string method, string privateForm, string publicForm)
    {
        var priv = Path.Combine(directory, "priv.pem");
        var pub = Path.Combine(directory, "pub.pem");
        AsymmetricAlgorithm key = method.StartsWith("ES", StringComparison.Ordinal)
            ? ECDsa.Create(method == "ES384" ? ECCurve.NamedCurves.nistP384 : ECCurve.NamedCurves.nistP256) : RSA.Create(2048);
        using (key)
        {
            File.WriteAllText(priv, (key, privateForm) switch
            {
                (RSA rsa, "pkcs1") => rsa.ExportRSAPrivateKeyPem(),
                (ECDsa ec, "sec1") => ec.ExportECPrivateKeyPem(),
                _ => key.ExportPkcs8PrivateKeyPem(),
            });
            File.WriteAllText(pub, (key, publicForm) switch
            {
                (RSA rsa, "pkcs1-public") => rsa.ExportRSAPublicKeyPem(),
                (_, "spki") => key.ExportSubjectPublicKeyInfoPem(),
                (RSA rsa, _) => new CertificateRequest("CN=jwt", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                    .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)).ExportCertificatePem(),
                (ECDsa ec, _) => new CertificateRequest("CN=jwt", ec, HashAlgorithmName.SHA256)
                    .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)).ExportCertificatePem(),
                _ => throw new ArgumentOutOfRangeException(nameof(publicForm)),
            });
        }
        var clock = new ManualClock();
        var tokens = TokenProviders.Create($"jwt,pub-key={pub},priv-key={priv},sign-method={method}", TimeSpan.FromMinutes(5), clock);
        Assert.Equal(new AuthInfo("alice", 3), tokens.Info(tokens.Assign("alice", 3, "", 1), 3));
        var verifyOnly = TokenProviders.Create($"jwt,pub-key={pub},sign-method={method}", TimeSpan.FromMinutes(5), clock);
        Assert.Equal(new AuthInfo("alice", 4), verifyOnly.Info(tokens.Assign("alice", 4, "", 2), 4));
    }

    [Fact]
    public void A_key_file_that_cannot_be_used_is_refused_in_one_line_naming_it()
    {
        var missing = Path.Combine(directory, "missing.pem");
        var ecKey = Path.Combine(directory, "ec.pem");
        using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256)) File.WriteAllText(ecKey, ec.ExportECPrivateKeyPem());
        var garbage = Path.Combine(directory, "garbage.pem");
        File.WriteAllText(garbage, "not a key");
        (string Flag, string Message)[] cases =
        [
            ($"jwt,priv-key={missing},sign-method=RS256", $"--auth-token jwt priv-key {missing}: "),
            ($"jwt,priv-key={ecKey},sign-method=RS256", $"--auth-token jwt priv-key {ecKey}: no RSA private key in PEM form in it"),
            ($"jwt,pub-key={garbage},sign-method=ES256", $"--auth-token jwt pub-key {garbage}: no ECDSA public or private key in PEM form in it"),
            ($"jwt,pub-key={ecKey},sign-method=ES256,ttl=soon", "--auth-token jwt ttl soon: not a duration"),
        ];
        foreach (var (flag, message) in cases)
        {
            var exception = Assert.Throws<AuthTokenException>(() => TokenProviders.Create(flag, TimeSpan.FromMinutes(5), TimeProvider.System));
            Assert.StartsWith(message, exception.Message);
            Assert.DoesNotContain('\n', exception.Message);
        }
    }

    private (string Private, string Public) WriteKeys(string method, string name = "key")
    {
        var priv = Path.Combine(directory, name + ".pem");
        var pub = Path.Combine(directory, name + ".pub.pem");
        switch (method[..2])
        {
            case "HS":
                File.WriteAllBytes(priv, RandomNumberGenerator.GetBytes(32));
                File.Copy(priv, pub);
                break;
            case "ES":
                using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    File.WriteAllText(priv, ec.ExportPkcs8PrivateKeyPem());
                    File.WriteAllText(pub, ec.ExportSubjectPublicKeyInfoPem());
                }
                break;
            default:
                using (var rsa = RSA.Create(2048))
                {
                    File.WriteAllText(priv, rsa.ExportPkcs8PrivateKeyPem());
                    File.WriteAllText(pub, rsa.ExportSubjectPublicKeyInfoPem());
                }
                break;
        }
        return (priv, pub);
    }
}
