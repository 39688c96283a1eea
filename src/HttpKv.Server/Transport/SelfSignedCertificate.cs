using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Transport;

/// <summary>etcd's <c>--auto-tls</c> / <c>--peer-auto-tls</c>: a self-signed ECDSA certificate for the hosts of the
/// listen URLs, kept as <c>cert.pem</c> and <c>key.pem</c> in a directory of the data dir (<c>fixtures/client</c>,
/// <c>fixtures/peer</c>) and reused on later starts while it is valid.</summary>
public static class SelfSignedCertificate
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    public static (string CertFile, string KeyFile) Ensure(string directory, IEnumerable<string> hosts, int validityYears, ILogger logger)
    {
        var certFile = Path.Combine(directory, "cert.pem");
        var keyFile = Path.Combine(directory, "key.pem");
        if (IsUsable(certFile, keyFile)) return (certFile, keyFile);
        Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("O=httpkv", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        // Server and client use: a member presents the same certificate when it dials the others.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid), new Oid(ClientAuthOid)], false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host.Trim('[', ']'), out var address)) names.AddIpAddress(address);
            else names.AddDnsName(host);
        }
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-1), now.AddYears(Math.Max(validityYears, 1)));
        File.WriteAllText(certFile, certificate.ExportCertificatePem() + "\n");
        logger.LogInformation("created cert file {Path}", certFile);
        WritePrivate(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n");
        logger.LogInformation("created key file {Path}", keyFile);
        return (certFile, keyFile);
    }

    private static bool IsUsable(string certFile, string keyFile)
    {
        if (!File.Exists(certFile) || !File.Exists(keyFile)) return false;
        try
        {
            using var existing = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            return existing.NotAfter > DateTime.Now;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
