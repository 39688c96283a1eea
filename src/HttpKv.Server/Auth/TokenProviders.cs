using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace HttpKv.Server.Auth;

/// <summary>Who a request comes from once its token (or client certificate) has been checked, and the auth
/// revision that identity stands for (etcd's AuthInfo).</summary>
public sealed record AuthInfo(string User, ulong Revision);

/// <summary>Issues and checks auth tokens (etcd's TokenProvider). Tokens are assigned when an authentication is
/// applied from the log, on every member.</summary>
public interface ITokenProvider
{
    /// <summary>The token for <paramref name="user"/>, authenticated by log entry <paramref name="index"/> with the
    /// proposer's random <paramref name="simplePrefix"/> at auth revision <paramref name="revision"/>.</summary>
    string Assign(string user, ulong revision, string simplePrefix, ulong index);

    /// <summary>The identity of a token, or null if it is unknown, expired or forged.</summary>
    AuthInfo? Info(string token, ulong currentRevision);

    /// <summary>Forgets every token of a user (deleted, or its password changed).</summary>
    void InvalidateUser(string user);

    /// <summary>Forgets every token (auth disabled).</summary>
    void Clear();
}

/// <summary>Parses etcd's <c>--auth-token</c> flag: <c>simple</c>, or
/// <c>jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m</c>.</summary>
public static class TokenProviders
{
    /// <summary>Reads and checks <paramref name="authToken"/> (and its key files) once; the provider itself is made
    /// on the member's clock (<see cref="TokenProviderFactory.Create"/>), which the host knows only later.</summary>
    public static TokenProviderFactory Parse(string authToken, TimeSpan simpleTtl)
    {
        var parts = (authToken ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var kind = parts.Length == 0 ? "simple" : parts[0];
        switch (kind)
        {
            case "simple":
                if (parts.Length > 1) throw new AuthTokenException($"--auth-token simple takes no options, got {authToken}");
                return new TokenProviderFactory(clock => new SimpleTokens(simpleTtl, clock));
            case "jwt":
                var options = parts.Skip(1).Select(part => part.Split('=', 2)).ToDictionary(
                    pair => pair[0], pair => pair.Length == 2 ? pair[1] : throw new AuthTokenException($"--auth-token: option {pair[0]} needs a value"));
                return JwtTokens.FromOptions(options);
            default:
                throw new AuthTokenException($"unknown token type {kind} in --auth-token (expected simple or jwt)");
        }
    }

    public static ITokenProvider Create(string authToken, TimeSpan simpleTtl, TimeProvider clock) => Parse(authToken, simpleTtl).Create(clock);
}

/// <summary>A checked <c>--auth-token</c> value with its keys loaded: makes the member's token provider on its clock.</summary>
public sealed class TokenProviderFactory(Func<TimeProvider, ITokenProvider> create)
{
    public ITokenProvider Create(TimeProvider clock) => create(clock);
}

/// <summary>An <c>--auth-token</c> value or key file the member cannot use: one line naming what and why.</summary>
public sealed class AuthTokenException(string message) : ArgumentException(message);

/// <summary>etcd's simple tokens: random, known only to the members that applied the authentication, valid for a
/// TTL that each use renews (<c>--auth-token-ttl</c>). At most <see cref="MaxTokens"/> live at once.</summary>
public sealed class SimpleTokens(TimeSpan ttl, TimeProvider clock) : ITokenProvider
{
    public const int MaxTokens = 1_000_000;
    private readonly ConcurrentDictionary<string, Entry> tokens = new(StringComparer.Ordinal);

    private sealed class Entry(string user, long expiresAt)
    {
        public string User { get; } = user;
        public long ExpiresAt = expiresAt;
    }

    private long Deadline() => clock.GetTimestamp() + (long)(ttl.TotalSeconds * clock.TimestampFrequency);

    public string Assign(string user, ulong revision, string simplePrefix, ulong index)
    {
        var token = $"{simplePrefix}.{index.ToString(CultureInfo.InvariantCulture)}";
        if (tokens.Count >= MaxTokens) Sweep();
        if (tokens.Count >= MaxTokens) // still full of live tokens: drop the one closest to expiry
        {
            var oldest = tokens.MinBy(pair => pair.Value.ExpiresAt);
            tokens.TryRemove(oldest.Key, out _);
        }
        tokens[token] = new Entry(user, Deadline());
        return token;
    }

    public AuthInfo? Info(string token, ulong currentRevision)
    {
        if (!tokens.TryGetValue(token, out var entry)) return null;
        if (clock.GetTimestamp() > Volatile.Read(ref entry.ExpiresAt))
        {
            tokens.TryRemove(token, out _);
            return null;
        }
        Volatile.Write(ref entry.ExpiresAt, Deadline());
        return new AuthInfo(entry.User, currentRevision);
    }

    public void InvalidateUser(string user)
    {
        foreach (var pair in tokens)
        {
            if (pair.Value.User == user) tokens.TryRemove(pair.Key, out _);
        }
    }

    public void Clear() => tokens.Clear();

    private void Sweep()
    {
        var now = clock.GetTimestamp();
        foreach (var pair in tokens)
        {
            if (now > pair.Value.ExpiresAt) tokens.TryRemove(pair.Key, out _);
        }
    }

    /// <summary>etcd's simple-token prefix: 16 random letters.</summary>
    public static string NewPrefix()
    {
        const string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        return string.Create(16, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = letters[RandomNumberGenerator.GetInt32(letters.Length)];
        });
    }
}

/// <summary>etcd's JWT tokens: signed with the private key (RS*, PS*, ES* or HS*), checked with the public key;
/// claims <c>username</c>, <c>revision</c> and <c>exp</c>. A token minted before the auth store changed carries an
/// older revision and is refused as etcd does ("revision of auth store is old").</summary>
public sealed class JwtTokens : ITokenProvider
{
    private readonly string algorithm;
    private readonly AsymmetricAlgorithm? verifyKey;
    private readonly AsymmetricAlgorithm? signKey;
    private readonly byte[]? secret;
    private readonly TimeSpan ttl;
    private readonly TimeProvider clock;

    private JwtTokens(string algorithm, AsymmetricAlgorithm? verifyKey, AsymmetricAlgorithm? signKey, byte[]? secret, TimeSpan ttl, TimeProvider clock)
    {
        this.algorithm = algorithm;
        this.verifyKey = verifyKey;
        this.signKey = signKey;
        this.secret = secret;
        this.ttl = ttl;
        this.clock = clock;
    }

    public static TokenProviderFactory FromOptions(IReadOnlyDictionary<string, string> options)
    {
        foreach (var name in options.Keys.Where(name => name is not ("pub-key" or "priv-key" or "sign-method" or "ttl")))
            throw new AuthTokenException($"unknown --auth-token jwt option {name}");
        var method = options.GetValueOrDefault("sign-method") ?? throw new AuthTokenException("--auth-token jwt needs sign-method");
        var ttl = TimeSpan.FromMinutes(5);
        if (options.TryGetValue("ttl", out var ttlText) && !GoDuration.TryParse(ttlText, out ttl))
            throw new AuthTokenException($"--auth-token jwt ttl {ttlText}: not a duration (such as 5m or 300s)");
        var publicKey = Read(options, "pub-key");
        var privateKey = Read(options, "priv-key");
        switch (method[..Math.Min(2, method.Length)])
        {
            case "HS":
                var secret = privateKey?.Bytes ?? throw new AuthTokenException("--auth-token jwt with an HS sign-method needs priv-key (the shared secret)");
                var hmac = Check(method);
                return new TokenProviderFactory(clock => new JwtTokens(hmac, null, null, secret, ttl, clock));
            case "RS" or "PS":
                Check(method);
                var rsaSign = privateKey is null ? null : LoadKey(privateKey, "RSA", RSA.Create, certificate: null);
                var rsaVerify = publicKey is null ? rsaSign : LoadKey(publicKey, "RSA", RSA.Create, certificate => certificate.GetRSAPublicKey());
                var rsaKey = rsaVerify ?? throw NoKey();
                return new TokenProviderFactory(clock => new JwtTokens(method, rsaKey, rsaSign, null, ttl, clock));
            case "ES":
                Check(method);
                var ecSign = privateKey is null ? null : LoadKey(privateKey, "ECDSA", ECDsa.Create, certificate: null);
                var ecVerify = publicKey is null ? ecSign : LoadKey(publicKey, "ECDSA", ECDsa.Create, certificate => certificate.GetECDsaPublicKey());
                var ecKey = ecVerify ?? throw NoKey();
                return new TokenProviderFactory(clock => new JwtTokens(method, ecKey, ecSign, null, ttl, clock));
            default:
                throw new AuthTokenException($"unsupported --auth-token jwt sign-method {method}");
        }
    }

    private static AuthTokenException NoKey() => new("--auth-token jwt needs pub-key or priv-key");

    /// <summary>A key file named by an option, read whole; a file that cannot be read is refused with its name and why.</summary>
    private sealed record KeyFile(string Option, string Path, byte[] Bytes)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Bytes);

        public AuthTokenException Refused(string reason) => new($"--auth-token jwt {Option} {Path}: {reason}");
    }

    private static KeyFile? Read(IReadOnlyDictionary<string, string> options, string option)
    {
        if (!options.TryGetValue(option, out var path)) return null;
        try
        {
            return new KeyFile(option, path, File.ReadAllBytes(path));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new AuthTokenException($"--auth-token jwt {option} {path}: {exception.Message}");
        }
    }

    /// <summary>A key from PEM as etcd (jwt-go) takes it: PKCS#1 (<c>RSA PRIVATE KEY</c>, <c>RSA PUBLIC KEY</c>), SEC1
    /// (<c>EC PRIVATE KEY</c>), PKCS#8 (<c>PRIVATE KEY</c>), SubjectPublicKeyInfo (<c>PUBLIC KEY</c>), and for a public key
    /// a <c>CERTIFICATE</c>, whose key is used.</summary>
    private static T LoadKey<T>(KeyFile file, string algorithm, Func<T> create, Func<X509Certificate2, T?>? certificate) where T : AsymmetricAlgorithm
    {
        var wanted = certificate is null ? $"{algorithm} private key" : $"{algorithm} public or private key";
        var pem = file.Text;
        if (pem.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal)) throw file.Refused("an encrypted private key cannot be used");
        if (certificate is not null && pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            try
            {
                using var parsed = X509Certificate2.CreateFromPem(pem);
                return certificate(parsed) ?? throw file.Refused($"the certificate's key is not an {algorithm} key");
            }
            catch (CryptographicException exception)
            {
                throw file.Refused($"not a readable certificate ({exception.Message})");
            }
        }
        var key = create();
        try
        {
            key.ImportFromPem(pem);
            return key;
        }
        catch (Exception exception) when (exception is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw file.Refused($"no {wanted} in PEM form in it (PKCS#1, PKCS#8, SEC1 or SubjectPublicKeyInfo" + (certificate is null ? ")" : ", or a certificate)"));
        }
    }

    private static string Check(string method) => method is "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512"
        or "ES256" or "ES384" or "ES512" or "HS256" or "HS384" or "HS512"
        ? method : throw new AuthTokenException($"unsupported --auth-token jwt sign-method {method}");

    private HashAlgorithmName Hash => algorithm[2..] switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    public string Assign(string user, ulong revision, string simplePrefix, ulong index)
    {
        if (signKey is null && secret is null) throw new InvalidOperationException("--auth-token jwt has no priv-key: this member can check tokens but not issue them");
        var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["alg"] = algorithm, ["typ"] = "JWT" }));
        var expires = clock.GetUtcNow().Add(ttl).ToUnixTimeSeconds();
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["exp"] = expires, ["revision"] = revision, ["username"] = user,
        }));
        var signingInput = Encoding.ASCII.GetBytes(header + "." + payload);
        return header + "." + payload + "." + Base64Url(Sign(signingInput));
    }

    public AuthInfo? Info(string token, ulong currentRevision)
    {
        var parts = token.Split('.');
        if (parts.Length != 3) return null;
        try
        {
            using var header = JsonDocument.Parse(FromBase64Url(parts[0]));
            if (!header.RootElement.TryGetProperty("alg", out var alg) || alg.GetString() != algorithm) return null;
            if (!Verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]))) return null;
            using var payload = JsonDocument.Parse(FromBase64Url(parts[1]));
            var claims = payload.RootElement;
            if (claims.TryGetProperty("exp", out var exp) && exp.GetInt64() < clock.GetUtcNow().ToUnixTimeSeconds()) return null;
            var user = claims.GetProperty("username").GetString();
            var revision = claims.GetProperty("revision").GetUInt64();
            return string.IsNullOrEmpty(user) ? null : new AuthInfo(user, revision);
        }
        catch (Exception exception) when (exception is FormatException or JsonException or KeyNotFoundException or InvalidOperationException or CryptographicException)
        {
            return null;
        }
    }

    public void InvalidateUser(string user) { } // a signed token cannot be recalled; its revision goes stale instead

    public void Clear() { }

    private byte[] Sign(byte[] data) => algorithm[..2] switch
    {
        "HS" => Hmac(data),
        "RS" => ((RSA)signKey!).SignData(data, Hash, RSASignaturePadding.Pkcs1),
        "PS" => ((RSA)signKey!).SignData(data, Hash, RSASignaturePadding.Pss),
        _ => ((ECDsa)signKey!).SignData(data, Hash),
    };

    private bool Verify(byte[] data, byte[] signature) => algorithm[..2] switch
    {
        "HS" => CryptographicOperations.FixedTimeEquals(Hmac(data), signature),
        "RS" => ((RSA)verifyKey!).VerifyData(data, signature, Hash, RSASignaturePadding.Pkcs1),
        "PS" => ((RSA)verifyKey!).VerifyData(data, signature, Hash, RSASignaturePadding.Pss),
        _ => ((ECDsa)verifyKey!).VerifyData(data, signature, Hash),
    };

    private byte[] Hmac(byte[] data) => algorithm[2..] switch
    {
        "256" => HMACSHA256.HashData(secret!, data),
        "384" => HMACSHA384.HashData(secret!, data),
        _ => HMACSHA512.HashData(secret!, data),
    };

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded + new string('=', (4 - padded.Length % 4) % 4));
    }
}
