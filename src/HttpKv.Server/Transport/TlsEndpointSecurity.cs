using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Transport;

/// <summary>The TLS settings of one side of a member, clients or peers: the certificate its https URLs serve, the
/// CA that certificates presented to it must chain to, whether a certificate is required during the handshake, and
/// what it presents and trusts when it dials that side of another member. Immutable once loaded.</summary>
public sealed class TlsEndpointSecurity
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>The settings of a side none of whose URLs is https.</summary>
    public static TlsEndpointSecurity Plaintext(string side) => new(side) { Description = "" };

    public TlsEndpointSecurity(string side) => Side = side;

    /// <summary>"client" or "peer".</summary>
    public string Side { get; }
    /// <summary>When set, connections to other members' URLs of this side leave from this local address
    /// (HttpKv:PeerBindSource binds them to the --listen-peer-urls address), so a network fault injector between
    /// members can tell who is calling. Set once, when the member's security is loaded.</summary>
    public System.Net.IPAddress? SourceAddress { get; set; }
    /// <summary>The certificate (with its key) the https URLs serve; null when none is configured.</summary>
    public X509Certificate2? ServerCertificate { get; init; }
    /// <summary>Intermediate certificates that followed the leaf in the certificate file.</summary>
    public X509Certificate2Collection ServerCertificateChain { get; init; } = [];
    /// <summary>The certificate presented when dialing another member's URL of this side; null: none.</summary>
    public X509Certificate2? OutgoingCertificate { get; init; }
    public X509Certificate2Collection OutgoingCertificateChain { get; init; } = [];
    /// <summary>The only roots a presented certificate may chain to (etcd's trusted CA file); empty: none given.</summary>
    public X509Certificate2Collection TrustedRoots { get; init; } = [];
    /// <summary>etcd's --client-cert-auth / --peer-client-cert-auth: a trusted certificate is required in the handshake.</summary>
    public bool RequireClientCertificate { get; init; }
    /// <summary>etcd's --peer-cert-allowed-cn: empty, or the one common name a presented certificate must carry.</summary>
    public string AllowedCommonName { get; init; } = "";
    /// <summary>etcd's --client-crl-file / --peer-crl-file: presented certificates with a serial it revokes are refused.</summary>
    public RevokedSerials? Revoked { get; init; }
    /// <summary>The certificate is self-signed (auto TLS): other members' certificates are not verified, as etcd.</summary>
    public bool SelfSigned { get; init; }
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;
    public CipherSuitesPolicy? CipherSuitesPolicy { get; init; }
    /// <summary>etcd's "tls-info" text for the start-up log; empty when the side serves no https URL.</summary>
    public string Description { get; init; } = "";
    public IReadOnlyList<string> CipherSuiteNames { get; init; } = [];

    public bool IsEnabled => ServerCertificate is not null;

    /// <summary>Kestrel's TLS settings for an https URL of this side; refused certificates are reported to
    /// <paramref name="logger"/> as etcd's "rejected connection" warnings.</summary>
    public void ConfigureHttps(HttpsConnectionAdapterOptions https, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(https);
        https.ServerCertificate = ServerCertificate ?? throw new InvalidOperationException($"no {Side} certificate is configured");
        https.ServerCertificateChain = ServerCertificateChain;
        https.SslProtocols = Protocols;
        https.CheckCertificateRevocation = false;
        https.ClientCertificateMode = RequireClientCertificate ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.NoCertificate;
        https.ClientCertificateValidation = (certificate, chain, _) => IsTrustedClient(certificate, chain, logger);
        var policy = CipherSuitesPolicy;
        if (policy is not null) https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
    }

    /// <summary>A certificate presented to this side's https URLs: it must chain to the trusted CA alone (no system
    /// roots, no revocation fetching), be valid now, allow client authentication, and carry the allowed CN if one is set.</summary>
    public bool IsTrustedClient(X509Certificate2 certificate, X509Chain? presented, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var problem = ChainProblem(certificate, presented, ClientAuthOid)
            ?? RevokedProblem(certificate, presented)
            ?? (AllowedCommonName.Length == 0 || commonName == AllowedCommonName ? null : $"CommonName {commonName} is not allowed (want {AllowedCommonName})");
        if (problem is not null)
            logger?.LogWarning("rejected connection on the {Side} port from a certificate of {Subject} issued by {Issuer}: {Problem}",
                Side, certificate.Subject, certificate.Issuer, problem);
        return problem is null;
    }

    /// <summary>etcd's CRL check: the presented certificate and every one sent with it, by serial number.</summary>
    private string? RevokedProblem(X509Certificate2 certificate, X509Chain? presented)
    {
        if (Revoked is null) return null;
        var sent = (presented?.ChainElements ?? Enumerable.Empty<X509ChainElement>()).Select(element => element.Certificate).Prepend(certificate);
        return Revoked.FirstRevoked(sent) is { } revoked ? $"certificate serial {revoked.SerialNumber.ToLowerInvariant()} revoked ({Revoked.Flag} {Revoked.Path})" : null;
    }

    private bool ChainsToTrustedRoot(X509Certificate2 certificate, X509Chain? presented, string usageOid) =>
        ChainProblem(certificate, presented, usageOid) is null;

    /// <summary>Null when the certificate chains to a trusted root, else why not (the chain's status texts).</summary>
    private string? ChainProblem(X509Certificate2 certificate, X509Chain? presented, string usageOid)
    {
        if (TrustedRoots.Count == 0) return "no trusted CA is configured";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedRoots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usageOid));
        foreach (var element in presented?.ChainElements ?? Enumerable.Empty<X509ChainElement>())
        {
            if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        chain.ChainPolicy.ExtraStore.AddRange(TrustedRoots);
        if (chain.Build(certificate)) return null;
        var statuses = chain.ChainStatus.Select(status => status.StatusInformation.Trim()).Where(text => text.Length > 0).Distinct();
        return string.Join("; ", statuses) is { Length: > 0 } text ? text : "the chain does not end at the trusted CA";
    }

    /// <summary>Whether the certificate another member's https URL served is acceptable: self-signed sides skip the
    /// check (etcd's auto TLS); with a trusted CA the chain must end there and name the host dialed; without one, the
    /// system's roots decide.</summary>
    public bool IsTrustedServer(X509Certificate2? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (SelfSigned) return true;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (TrustedRoots.Count == 0) return errors == SslPolicyErrors.None;
        return !errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) && ChainsToTrustedRoot(certificate, presented, ServerAuthOid);
    }

    /// <summary>The TLS client settings for dialing another member's https URL of this side.</summary>
    public SslClientAuthenticationOptions ClientAuthenticationOptions() => new()
    {
        ClientCertificateContext = OutgoingCertificate is null ? null
            : SslStreamCertificateContext.Create(OutgoingCertificate, OutgoingCertificateChain, offline: true),
        EnabledSslProtocols = Protocols,
        CipherSuitesPolicy = CipherSuitesPolicy,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            IsTrustedServer(certificate as X509Certificate2 ?? (certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())), chain, errors),
    };

    /// <summary>A gRPC channel to a URL of this side of another member: TLS as configured when the URL is https.</summary>
    public GrpcChannel CreateChannel(string url, GrpcChannelOptions? options = null)
    {
        options ??= new GrpcChannelOptions();
        var https = url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (https || SourceAddress is not null)
        {
            var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
            if (https) handler.SslOptions = ClientAuthenticationOptions();
            if (SourceAddress is { } local) handler.ConnectCallback = (context, cancellationToken) => ConnectFromAsync(local, context.DnsEndPoint, cancellationToken);
            options.HttpHandler = handler;
            options.DisposeHttpClient = true;
        }
        return GrpcChannel.ForAddress(url, options);
    }

    private static async ValueTask<Stream> ConnectFromAsync(System.Net.IPAddress local, System.Net.DnsEndPoint remote, CancellationToken cancellationToken)
    {
        var socket = new System.Net.Sockets.Socket(local.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new System.Net.IPEndPoint(local, 0));
            await socket.ConnectAsync(remote, cancellationToken);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
