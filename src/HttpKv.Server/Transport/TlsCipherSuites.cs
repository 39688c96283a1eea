using System.Net.Security;
using System.Security.Authentication;

namespace HttpKv.Server.Transport;

/// <summary>etcd's <c>--cipher-suites</c> (Go's names of TLS 1.2 suites) and <c>--tls-min-version</c> /
/// <c>--tls-max-version</c>, turned into what <see cref="SslStream"/> takes.</summary>
public static class TlsCipherSuites
{
    /// <summary>Go's <c>crypto/tls</c> names → the IANA suite. Go spells the ChaCha20 suites without <c>_SHA256</c>
    /// and also accepts the long form; both are here. RC4 and 3DES suites are left out: OpenSSL no longer offers them.</summary>
    private static readonly Dictionary<string, TlsCipherSuite> ByGoName = new(StringComparer.Ordinal)
    {
        ["TLS_RSA_WITH_AES_128_CBC_SHA"] = TlsCipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA,
        ["TLS_RSA_WITH_AES_256_CBC_SHA"] = TlsCipherSuite.TLS_RSA_WITH_AES_256_CBC_SHA,
        ["TLS_RSA_WITH_AES_128_CBC_SHA256"] = TlsCipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA256,
        ["TLS_RSA_WITH_AES_128_GCM_SHA256"] = TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,
        ["TLS_RSA_WITH_AES_256_GCM_SHA384"] = TlsCipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384,
        ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
        ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    };

    /// <summary>TLS 1.3's suites, which Go does not let etcd configure: they stay on whatever --cipher-suites says.</summary>
    private static readonly TlsCipherSuite[] Tls13Suites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>The suites a comma-separated list of Go names allows (empty list: none given).</summary>
    /// <exception cref="TransportSecurityException">a name Go's crypto/tls (and so etcd) does not know.</exception>
    public static IReadOnlyList<TlsCipherSuite> Parse(string goNames)
    {
        var suites = new List<TlsCipherSuite>();
        foreach (var name in goNames.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!ByGoName.TryGetValue(name, out var suite)) throw new TransportSecurityException($"unexpected TLS cipher suite \"{name}\"");
            if (!suites.Contains(suite)) suites.Add(suite);
        }
        return suites;
    }

    /// <summary>The policy for <see cref="SslStream"/>: the TLS 1.2 suites given plus all of TLS 1.3's; null when
    /// none were given (the platform's defaults).</summary>
    public static CipherSuitesPolicy? Policy(IReadOnlyList<TlsCipherSuite> tls12Suites)
    {
        if (tls12Suites.Count == 0) return null;
        if (OperatingSystem.IsWindows()) throw new TransportSecurityException("--cipher-suites is not supported on Windows (SChannel chooses the suites)");
        return new CipherSuitesPolicy([.. tls12Suites, .. Tls13Suites]);
    }

    /// <summary>The protocols between etcd's <c>--tls-min-version</c> and <c>--tls-max-version</c> (empty: no maximum).
    /// etcd 3.5 accepts TLS1.2 and TLS1.3 only.</summary>
    public static SslProtocols Protocols(string minVersion, string maxVersion, bool cipherSuitesGiven)
    {
        var min = Version(minVersion, "TLS1.2");
        var max = Version(maxVersion, "TLS1.3");
        if (min > max) throw new TransportSecurityException($"min version ({minVersion}) is greater than max version ({maxVersion})");
        if (min == SslProtocols.Tls13 && cipherSuitesGiven)
            throw new TransportSecurityException("cipher suites cannot be configured when only TLS1.3 is enabled");
        return min == max ? min : SslProtocols.Tls12 | SslProtocols.Tls13;
    }

    private static SslProtocols Version(string text, string whenEmpty) => (string.IsNullOrWhiteSpace(text) ? whenEmpty : text.Trim()) switch
    {
        "TLS1.2" => SslProtocols.Tls12,
        "TLS1.3" => SslProtocols.Tls13,
        _ => throw new TransportSecurityException($"unexpected TLS version \"{text}\" (must be one of: TLS1.2, TLS1.3)"),
    };
}

/// <summary>A TLS flag or file that keeps the member from starting; the message says which, in etcd's words where
/// etcd has them.</summary>
public sealed class TransportSecurityException(string message, Exception? inner = null) : Exception(message, inner);
