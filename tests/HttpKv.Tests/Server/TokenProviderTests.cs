using System.Security.Cryptography;
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
