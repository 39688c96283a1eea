using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using HttpKv.Configuration;
using HttpKv.Server;
using HttpKv.Server.Transport;
using HttpKv.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.AspNetCore.Http.Features;

namespace HttpKv.Tests.Server;

/// <summary>etcd's TLS flags → MemberOptions → <see cref="TransportSecurity"/>: Go cipher-suite names, TLS versions,
/// the errors for bad flags and files, which certificates a side trusts, auto TLS, and a real Kestrel endpoint that
/// refuses untrusted clients in the handshake and shows the trusted one's certificate to handlers.</summary>
public sealed class TransportSecurityTests : IDisposable
{
    private readonly TestCertificates certificates = new();
    private readonly string dataDir = Directory.CreateTempSubdirectory("httpkv-tls-").FullName;

    public void Dispose()
    {
        certificates.Dispose();
        Directory.Delete(dataDir, recursive: true);
    }

    [Theory]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)]
    [InlineData("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)]
    [InlineData("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)]
    [InlineData("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)]
    [InlineData("TLS_RSA_WITH_AES_128_CBC_SHA", TlsCipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA)]
    public void Go_cipher_suite_names_map_to_the_IANA_suites(string goName, TlsCipherSuite expected) =>
        Assert.Equal([expected], TlsCipherSuites.Parse(goName));

    [Fact]
    public void A_list_of_cipher_suites_keeps_its_order_and_drops_repeats()
    {
        var suites = TlsCipherSuites.Parse("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");

        Assert.Equal([TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256], suites);
        Assert.Empty(TlsCipherSuites.Parse(""));
    }

    [Theory]
    [InlineData("TLS_AES_128_GCM_SHA256")] // TLS 1.3: Go does not let etcd configure these
    [InlineData("tls_ecdhe_rsa_with_aes_128_gcm_sha256")]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256")] // OpenSSL's spelling
    public void Names_Go_does_not_know_are_refused_as_etcd_refuses_them(string name)
    {
        var error = Assert.Throws<TransportSecurityException>(() => TlsCipherSuites.Parse(name));
        Assert.Equal($"unexpected TLS cipher suite \"{name}\"", error.Message);
    }

    [Theory]
    [InlineData("", "", SslProtocols.Tls12 | SslProtocols.Tls13)]
    [InlineData("TLS1.2", "", SslProtocols.Tls12 | SslProtocols.Tls13)]
    [InlineData("TLS1.3", "", SslProtocols.Tls13)]
    [InlineData("TLS1.2", "TLS1.2", SslProtocols.Tls12)]
    [InlineData("TLS1.3", "TLS1.3", SslProtocols.Tls13)]
    public void TLS_versions_span_min_to_max_with_TLS_1_2_the_floor(string min, string max, SslProtocols expected) =>
        Assert.Equal(expected, TlsCipherSuites.Protocols(min, max, cipherSuitesGiven: false));

    [Theory]
    [InlineData("TLS1.1", "", false, "unexpected TLS version \"TLS1.1\" (must be one of: TLS1.2, TLS1.3)")]
    [InlineData("TLS1.0", "", false, "unexpected TLS version \"TLS1.0\" (must be one of: TLS1.2, TLS1.3)")]
    [InlineData("TLS1.2", "SSL3", false, "unexpected TLS version \"SSL3\" (must be one of: TLS1.2, TLS1.3)")]
    [InlineData("TLS1.3", "TLS1.2", false, "min version (TLS1.3) is greater than max version (TLS1.2)")]
    [InlineData("TLS1.3", "", true, "cipher suites cannot be configured when only TLS1.3 is enabled")]
    public void Bad_TLS_versions_are_refused(string min, string max, bool cipherSuitesGiven, string message)
    {
        var error = Assert.Throws<TransportSecurityException>(() => TlsCipherSuites.Protocols(min, max, cipherSuitesGiven));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Etcd_TLS_flags_and_variables_reach_MemberOptions()
    {
        var environment = new Dictionary<string, string?> { ["ETCD_PEER_TRUSTED_CA_FILE"] = "/ca.pem", ["ETCD_PEER_AUTO_TLS"] = "true" };
        var parsed = EtcdCommandLine.Parse(
            ["--cert-file=/c.pem", "--key-file", "/k.pem", "--client-cert-auth", "--trusted-ca-file", "/ca.pem", "--auto-tls=false",
             "--peer-cert-file", "/pc.pem", "--peer-key-file", "/pk.pem", "--peer-client-cert-auth", "--peer-cert-allowed-cn", "member",
             "--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
             "--tls-min-version", "TLS1.2", "--tls-max-version", "TLS1.3", "--self-signed-cert-validity", "3",
             "--client-cert-file", "/cc.pem", "--client-key-file", "/ck.pem", "--peer-client-cert-file", "/pcc.pem", "--peer-client-key-file", "/pck.pem"],
            environment);
        Assert.Empty(parsed.Errors);
        Assert.Empty(parsed.Warnings);

        var options = new ConfigurationBuilder().AddInMemoryCollection(parsed.Settings).Build().GetSection(MemberOptions.Section).Get<MemberOptions>()!;

        Assert.Equal(("/c.pem", "/k.pem", true, "/ca.pem", false), (options.CertFile, options.KeyFile, options.ClientCertAuth, options.TrustedCaFile, options.AutoTls));
        Assert.Equal(("/pc.pem", "/pk.pem", true, "/ca.pem", true, "member"),
            (options.PeerCertFile, options.PeerKeyFile, options.PeerClientCertAuth, options.PeerTrustedCaFile, options.PeerAutoTls, options.PeerCertAllowedCn));
        Assert.Equal(("/cc.pem", "/ck.pem", "/pcc.pem", "/pck.pem"), (options.ClientCertFile, options.ClientKeyFile, options.PeerClientCertFile, options.PeerClientKeyFile));
        Assert.Equal("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", options.CipherSuites);
        Assert.Equal(("TLS1.2", "TLS1.3", 3), (options.TlsMinVersion, options.TlsMaxVersion, options.SelfSignedCertValidity));
    }

    [Fact]
    public void Http_urls_without_certificates_need_no_TLS()
    {
        var security = Load(new MemberOptions { ClientCertAuth = true, PeerClientCertAuth = true });

        Assert.False(security.Client.IsEnabled);
        Assert.False(security.Peer.IsEnabled);
    }

    [Fact]
    public void An_https_client_url_without_a_certificate_is_refused_with_etcds_message()
    {
        var error = Assert.Throws<TransportSecurityException>(() => Load(new MemberOptions { ListenClientUrls = "https://127.0.0.1:2379" }));
        Assert.Equal("TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme", error.Message);

        error = Assert.Throws<TransportSecurityException>(() => Load(new MemberOptions { ListenPeerUrls = "https://127.0.0.1:2380" }));
        Assert.Equal("TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url https://127.0.0.1:2380 with HTTPS scheme", error.Message);
    }

    [Fact]
    public void Missing_and_unpaired_files_are_named()
    {
        var missing = Path.Combine(dataDir, "nope.pem");
        var error = Assert.Throws<TransportSecurityException>(() => Load(ClientTls(o => o.KeyFile = missing)));
        Assert.Equal($"open {missing}: no such file or directory", error.Message);

        error = Assert.Throws<TransportSecurityException>(() => Load(ClientTls(o => o.KeyFile = "")));
        Assert.Equal("--cert-file is given without --key-file", error.Message);

        error = Assert.Throws<TransportSecurityException>(() => Load(ClientTls(o => o.TrustedCaFile = missing)));
        Assert.Equal($"open {missing}: no such file or directory", error.Message);

        error = Assert.Throws<TransportSecurityException>(() => Load(ClientTls(o => o.KeyFile = certificates.Key("client"))));
        Assert.StartsWith($"cannot load the key pair --cert-file {certificates.Cert("server")}, --key-file {certificates.Key("client")}", error.Message, StringComparison.Ordinal);

        error = Assert.Throws<TransportSecurityException>(() => Load(ClientTls(o => o.TrustedCaFile = "")));
        Assert.Equal("--client-cert-auth requires --trusted-ca-file: client certificates are verified against that CA only", error.Message);
    }

    [Fact]
    public void Client_certificates_must_chain_to_the_trusted_CA_and_be_valid_now()
    {
        var security = Load(ClientTls());

        Assert.True(security.Client.RequireClientCertificate);
        Assert.True(security.Client.IsTrustedClient(certificates.Load("client"), null));
        Assert.False(security.Client.IsTrustedClient(certificates.Load("other-client"), null));
        Assert.False(security.Client.IsTrustedClient(certificates.Load("expired-client"), null));
    }

    [Fact]
    public void A_peer_certificate_must_carry_the_allowed_common_name()
    {
        Assert.True(Load(PeerTls(o => o.PeerCertAllowedCn = "member")).Peer.IsTrustedClient(certificates.Load("peer"), null));
        Assert.False(Load(PeerTls(o => o.PeerCertAllowedCn = "someone-else")).Peer.IsTrustedClient(certificates.Load("peer"), null));
        Assert.False(Load(PeerTls(o => o.PeerCertAllowedCn = "member")).Peer.IsTrustedClient(certificates.Load("other-peer"), null));
    }

    [Fact]
    public void Server_certificates_of_other_members_are_checked_against_the_trusted_CA()
    {
        var peer = Load(PeerTls()).Peer;

        Assert.True(peer.IsTrustedServer(certificates.Load("peer"), null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(peer.IsTrustedServer(certificates.Load("other-peer"), null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(peer.IsTrustedServer(certificates.Load("peer"), null, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(peer.IsTrustedServer(null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
        Assert.False(peer.IsTrustedServer(certificates.Load("client"), null, SslPolicyErrors.RemoteCertificateChainErrors)); // no server-auth usage
    }

    [Fact]
    public void Auto_TLS_makes_a_self_signed_certificate_under_fixtures_and_reuses_it()
    {
        var options = new MemberOptions { DataDir = dataDir, ListenClientUrls = "https://127.0.0.1:2379", AutoTls = true, SelfSignedCertValidity = 2 };

        var first = Load(options).Client;
        var second = Load(options).Client;

        Assert.True(File.Exists(Path.Combine(dataDir, "fixtures", "client", "cert.pem")));
        Assert.True(File.Exists(Path.Combine(dataDir, "fixtures", "client", "key.pem")));
        Assert.True(first.SelfSigned);
        Assert.Equal(first.ServerCertificate!.Thumbprint, second.ServerCertificate!.Thumbprint);
        Assert.InRange(first.ServerCertificate.NotAfter, DateTime.Now.AddYears(2).AddDays(-1), DateTime.Now.AddYears(2).AddDays(1));
        var names = first.ServerCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains(IPAddress.Loopback, names.EnumerateIPAddresses());
        Assert.False(Directory.Exists(Path.Combine(dataDir, "fixtures", "peer")));
    }

    [Fact]
    public void Peer_auto_TLS_makes_its_own_certificate_and_does_not_verify_other_members_as_etcd()
    {
        var peer = Load(new MemberOptions { DataDir = dataDir, ListenPeerUrls = "https://127.0.0.1:2380", PeerAutoTls = true }).Peer;

        Assert.True(peer.SelfSigned);
        Assert.True(File.Exists(Path.Combine(dataDir, "fixtures", "peer", "cert.pem")));
        Assert.Equal(peer.ServerCertificate, peer.OutgoingCertificate);
        Assert.True(peer.IsTrustedServer(certificates.Load("other-peer"), null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(peer.RequireClientCertificate);
    }

    [Fact]
    public async Task A_trusted_client_certificate_is_visible_to_handlers_over_HTTP_1_1_and_HTTP_2_and_others_are_refused_in_the_handshake()
    {
        var security = Load(ClientTls());
        await using var app = await StartEchoServerAsync(security.Client);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();

        foreach (var (version, protocol) in new[] { (HttpVersion.Version11, "HTTP/1.1"), (HttpVersion.Version20, "HTTP/2") })
        {
            using var client = Client(certificates.Load("client"));
            using var request = new HttpRequestMessage(HttpMethod.Get, address + "/whoami") { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await client.SendAsync(request);
            Assert.Equal($"{protocol} alice", await response.Content.ReadAsStringAsync());
        }

        foreach (var refused in new[] { null, certificates.Load("other-client"), certificates.Load("expired-client") })
        {
            using var client = Client(refused);
            var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync(address + "/whoami"));
            Assert.Null(error.StatusCode); // no HTTP response at all: the connection ended in or right after the handshake
        }
    }

    private static async Task<WebApplication> StartEchoServerAsync(TlsEndpointSecurity tls)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(https => tls.ConfigureHttps(https));
        }));
        var app = builder.Build();
        app.MapGet("/whoami", (HttpContext context) =>
            $"{context.Request.Protocol} {context.Connection.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, false)}");
        await app.StartAsync();
        return app;
    }

    private HttpClient Client(X509Certificate2? certificate)
    {
        var ca = certificates.CaCertificate;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = certificate is null ? null : [certificate],
                RemoteCertificateValidationCallback = (_, server, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return server is X509Certificate2 leaf && chain.Build(leaf);
                },
            },
        };
        return new HttpClient(handler);
    }

    private TransportSecurity Load(MemberOptions options) => TransportSecurity.Load(options, NullLogger.Instance);

    private MemberOptions ClientTls(Action<MemberOptions>? change = null) => Changed(change, new()
    {
        DataDir = dataDir,
        ListenClientUrls = "https://127.0.0.1:2379",
        CertFile = certificates.Cert("server"),
        KeyFile = certificates.Key("server"),
        TrustedCaFile = certificates.CaFile,
        ClientCertAuth = true,
    });

    private MemberOptions PeerTls(Action<MemberOptions>? change = null) => Changed(change, new()
    {
        DataDir = dataDir,
        ListenPeerUrls = "https://127.0.0.1:2380",
        PeerCertFile = certificates.Cert("peer"),
        PeerKeyFile = certificates.Key("peer"),
        PeerTrustedCaFile = certificates.CaFile,
        PeerClientCertAuth = true,
    });

    private static MemberOptions Changed(Action<MemberOptions>? change, MemberOptions options)
    {
        change?.Invoke(options);
        return options;
    }
}
