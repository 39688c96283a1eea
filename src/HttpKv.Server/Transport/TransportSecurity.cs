using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Transport;

/// <summary>A member's TLS for its two sides, loaded once at start from etcd's security flags (docs/security.md):
/// certificates and keys read (or made, with auto TLS), the trusted CAs, the protocol versions and cipher suites.
/// Every misconfiguration is a <see cref="TransportSecurityException"/> with a message naming the flag or file.</summary>
public sealed class TransportSecurity
{
    public required TlsEndpointSecurity Client { get; init; }
    public required TlsEndpointSecurity Peer { get; init; }

    public static TransportSecurity None { get; } = new() { Client = TlsEndpointSecurity.Plaintext("client"), Peer = TlsEndpointSecurity.Plaintext("peer") };

    public static TransportSecurity Load(MemberOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var suites = TlsCipherSuites.Parse(options.CipherSuites);
        var protocols = TlsCipherSuites.Protocols(options.TlsMinVersion, options.TlsMaxVersion, suites.Count > 0);
        var common = new Common(protocols, TlsCipherSuites.Policy(suites), [.. suites.Select(suite => suite.ToString())]);
        var dataDir = Path.GetFullPath(options.ResolvedDataDir);
        var client = LoadSide(new SideFlags("client", "", MemberOptions.SplitUrls(options.ListenClientUrls),
            options.CertFile, options.KeyFile, options.ClientCertFile, options.ClientKeyFile, options.TrustedCaFile,
            options.ClientCertAuth, options.AutoTls, "", options.ClientCrlFile), common, dataDir, options.SelfSignedCertValidity, logger);
        var peer = LoadSide(new SideFlags("peer", "peer-", MemberOptions.SplitUrls(options.ListenPeerUrls),
            options.PeerCertFile, options.PeerKeyFile, options.PeerClientCertFile, options.PeerClientKeyFile, options.PeerTrustedCaFile,
            options.PeerClientCertAuth, options.PeerAutoTls, options.PeerCertAllowedCn, options.PeerCrlFile), common, dataDir, options.SelfSignedCertValidity, logger);
        if (options.PeerBindSource) peer.SourceAddress = SourceAddressOf(options.ListenPeerUrls);
        return new TransportSecurity { Client = client, Peer = peer };
    }

    /// <summary>The IP literal of the first --listen-peer-urls, which HttpKv:PeerBindSource dials from.</summary>
    private static System.Net.IPAddress SourceAddressOf(string listenPeerUrls) =>
        MemberOptions.SplitUrls(listenPeerUrls).Select(url => new Uri(url).Host.Trim('[', ']'))
            .Select(host => System.Net.IPAddress.TryParse(host, out var address) ? address : null)
            .FirstOrDefault(address => address is not null && !address.Equals(System.Net.IPAddress.Any) && !address.Equals(System.Net.IPAddress.IPv6Any))
        ?? throw new TransportSecurityException($"HttpKv:PeerBindSource needs an IP address (not a name or a wildcard) in --listen-peer-urls, got {listenPeerUrls}");

    private sealed record Common(System.Security.Authentication.SslProtocols Protocols, System.Net.Security.CipherSuitesPolicy? Policy, string[] SuiteNames);

    /// <summary>One side's flags; <paramref name="Prefix"/> is "" or "peer-" as in the flag names.</summary>
    private sealed record SideFlags(string Side, string Prefix, IReadOnlyList<string> ListenUrls, string CertFile, string KeyFile,
        string ClientCertFile, string ClientKeyFile, string TrustedCaFile, bool ClientCertAuth, bool AutoTls, string AllowedCn, string CrlFile);

    private static TlsEndpointSecurity LoadSide(SideFlags flags, Common common, string dataDir, int validityYears, ILogger logger)
    {
        var httpsUrl = flags.ListenUrls.FirstOrDefault(url => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        var haveFiles = flags.CertFile.Length > 0 || flags.KeyFile.Length > 0;
        if (httpsUrl is null && !haveFiles) return TlsEndpointSecurity.Plaintext(flags.Side);
        var (certFile, keyFile, selfSigned) = (flags.CertFile, flags.KeyFile, false);
        if (!haveFiles && flags.AutoTls)
        {
            var hosts = flags.ListenUrls.Select(url => new Uri(url).Host);
            (certFile, keyFile) = SelfSignedCertificate.Ensure(Path.Combine(dataDir, "fixtures", flags.Side), hosts, validityYears, logger);
            selfSigned = true;
        }
        else if (haveFiles && flags.AutoTls)
        {
            logger.LogWarning("ignoring {Side} auto TLS since certs given", flags.Side);
        }
        if (certFile.Length == 0 && keyFile.Length == 0)
            throw new TransportSecurityException($"TLS key/cert (--{flags.Prefix}cert-file, --{flags.Prefix}key-file) must be provided for {flags.Side} url {httpsUrl} with HTTPS scheme");
        var (server, serverChain) = LoadKeyPair(certFile, keyFile, flags.Prefix);
        var (outgoing, outgoingChain) = flags.ClientCertFile.Length > 0 || flags.ClientKeyFile.Length > 0
            ? LoadKeyPair(flags.ClientCertFile, flags.ClientKeyFile, flags.Prefix + "client-")
            : (server, serverChain);
        var roots = flags.TrustedCaFile.Length > 0 ? LoadCertificates(flags.TrustedCaFile, $"--{flags.Prefix}trusted-ca-file") : [];
        if (flags.ClientCertAuth && roots.Count == 0 && httpsUrl is not null)
            throw new TransportSecurityException($"--{flags.Prefix}client-cert-auth requires --{flags.Prefix}trusted-ca-file: " +
                $"{flags.Side} certificates are verified against that CA only");
        var description = $"cert = {certFile}, key = {keyFile}, client-cert={flags.ClientCertFile}, client-key={flags.ClientKeyFile}, " +
            $"trusted-ca = {flags.TrustedCaFile}, client-cert-auth = {(flags.ClientCertAuth ? "true" : "false")}, crl-file = {flags.CrlFile}";
        var revoked = flags.CrlFile.Length > 0 ? RevokedSerials.Load(flags.CrlFile, flags.Prefix.Length == 0 ? "--client-crl-file" : "--peer-crl-file") : null;
        return new TlsEndpointSecurity(flags.Side)
        {
            ServerCertificate = server,
            ServerCertificateChain = serverChain,
            OutgoingCertificate = outgoing,
            OutgoingCertificateChain = outgoingChain,
            TrustedRoots = roots,
            RequireClientCertificate = flags.ClientCertAuth,
            Revoked = revoked,
            AllowedCommonName = flags.AllowedCn,
            SelfSigned = selfSigned,
            Protocols = common.Protocols,
            CipherSuitesPolicy = common.Policy,
            CipherSuiteNames = common.SuiteNames,
            Description = description,
        };
    }

    /// <summary>A PEM certificate file (the leaf first, then any intermediates) and its PEM private key.</summary>
    private static (X509Certificate2 Leaf, X509Certificate2Collection Chain) LoadKeyPair(string certFile, string keyFile, string prefix)
    {
        if (certFile.Length == 0) throw new TransportSecurityException($"--{prefix}key-file is given without --{prefix}cert-file");
        if (keyFile.Length == 0) throw new TransportSecurityException($"--{prefix}cert-file is given without --{prefix}key-file");
        MustExist(certFile);
        MustExist(keyFile);
        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception exception) when (exception is CryptographicException or ArgumentException)
        {
            throw new TransportSecurityException($"cannot load the key pair --{prefix}cert-file {certFile}, --{prefix}key-file {keyFile}: {exception.Message}", exception);
        }
        var all = LoadCertificates(certFile, $"--{prefix}cert-file");
        var chain = new X509Certificate2Collection();
        foreach (var certificate in all.Skip(1)) chain.Add(certificate);
        return (leaf, chain);
    }

    private static X509Certificate2Collection LoadCertificates(string file, string flag)
    {
        MustExist(file);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(file);
        }
        catch (CryptographicException exception)
        {
            throw new TransportSecurityException($"cannot read the certificates of {flag} {file}: {exception.Message}", exception);
        }
        if (certificates.Count == 0) throw new TransportSecurityException($"{flag} {file}: no PEM certificate in the file");
        return certificates;
    }

    /// <summary>Go's wording, which etcd passes on: "open PATH: no such file or directory".</summary>
    private static void MustExist(string file)
    {
        if (!File.Exists(file)) throw new TransportSecurityException($"open {file}: no such file or directory");
    }
}
