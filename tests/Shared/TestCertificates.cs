using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HttpKv.Tests.Shared;

/// <summary>A throw-away PKI made at test time (no private key is checked in): a CA, a server certificate for
/// 127.0.0.1/localhost, client certificates signed by it, a certificate from another CA and an expired one — each
/// written as PEM (<c>name.pem</c>, <c>name-key.pem</c>) into a temporary directory deleted on dispose.</summary>
public sealed class TestCertificates : IDisposable
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    private readonly X509Certificate2 ca;
    private readonly X509Certificate2 otherCa;

    public TestCertificates()
    {
        ca = CreateCa("httpkv test CA");
        otherCa = CreateCa("another CA");
        File.WriteAllText(CaFile, ca.ExportCertificatePem() + "\n");
        File.WriteAllText(OtherCaFile, otherCa.ExportCertificatePem() + "\n");
        Issue("server", "server", ca, server: true);
        Issue("client", "alice", ca, server: false);
        Issue("other-client", "alice", otherCa, server: false);
        Issue("expired-client", "alice", ca, server: false, notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        Issue("peer", "member", ca, server: true);
        Issue("other-peer", "member", otherCa, server: true);
        Issue("revoked-client", "alice", ca, server: false);
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("httpkv-certs-").FullName;
    public string CaFile => Cert("ca");
    public string OtherCaFile => Cert("other-ca");

    /// <summary>The PEM certificate file of <paramref name="name"/>.</summary>
    public string Cert(string name) => Path.Combine(Directory, name + ".pem");

    /// <summary>The PEM (PKCS#8) private key file of <paramref name="name"/>.</summary>
    public string Key(string name) => Path.Combine(Directory, name + "-key.pem");

    /// <summary>A certificate for a client (CN = <paramref name="commonName"/>) signed by the test CA.</summary>
    public string IssueClient(string name, string commonName)
    {
        Issue(name, commonName, ca, server: false);
        return Cert(name);
    }

    /// <summary>Writes a certificate revocation list signed by the test CA that revokes the named certificates (PEM
    /// <c>X509 CRL</c>, as <c>openssl ca -gencrl</c> writes it) and returns its path.</summary>
    public string WriteCrl(string fileName, params string[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var name in revoked)
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(Cert(name)));
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }
        var der = builder.Build(ca, System.Numerics.BigInteger.One, DateTimeOffset.UtcNow.AddDays(7), HashAlgorithmName.SHA256);
        var path = Path.Combine(Directory, fileName);
        File.WriteAllText(path, PemEncoding.WriteString("X509 CRL", der) + "\n");
        return path;
    }

    /// <summary>Loads a written certificate with its key, for .NET clients.</summary>
    public X509Certificate2 Load(string name) => X509Certificate2.CreateFromPemFile(Cert(name), Key(name));

    public X509Certificate2 CaCertificate => X509CertificateLoader.LoadCertificate(ca.RawData);

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
    }

    private void Issue(string name, string commonName, X509Certificate2 issuer, bool server, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        var usages = new OidCollection { new Oid(ClientAuthOid) };
        if (server) usages.Add(new Oid(ServerAuthOid));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        var end = notAfter ?? DateTimeOffset.UtcNow.AddDays(7);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var certificate = request.Create(issuer, end.AddDays(-7), end, serial);
        File.WriteAllText(Cert(name), certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(Key(name), key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    public void Dispose()
    {
        ca.Dispose();
        otherCa.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
