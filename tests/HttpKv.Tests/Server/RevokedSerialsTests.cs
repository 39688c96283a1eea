using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HttpKv.Server.Transport;
using HttpKv.Tests.Shared;

namespace HttpKv.Tests.Server;

/// <summary>--client-crl-file / --peer-crl-file: which certificates a revocation list refuses, PEM or DER, a list
/// rewritten while the member runs, and a file that is not a list refused at start in one line.</summary>
public sealed class RevokedSerialsTests : IDisposable
{
    private readonly TestCertificates certificates = new();

    public void Dispose() => certificates.Dispose();

    private X509Certificate2 Certificate(string name) => X509Certificate2.CreateFromPem(File.ReadAllText(certificates.Cert(name)));

    [Fact]
    public void A_listed_serial_is_refused_in_pem_and_in_der_and_others_pass()
    {
        var pem = certificates.WriteCrl("list.crl", "revoked-client", "expired-client");
        var der = Path.Combine(certificates.Directory, "list.der");
        var text = File.ReadAllText(pem);
        File.WriteAllBytes(der, Convert.FromBase64String(text[PemEncoding.Find(text).Base64Data]));
        using var revoked = Certificate("revoked-client");
        using var client = Certificate("client");
        foreach (var path in new[] { pem, der })
        {
            var list = RevokedSerials.Load(path, "--client-crl-file");
            Assert.Same(revoked, list.FirstRevoked([client, revoked]));
            Assert.Null(list.FirstRevoked([client]));
        }
    }

    [Fact]
    public void A_list_rewritten_while_running_is_read_again()
    {
        var path = certificates.WriteCrl("live.crl");
        var list = RevokedSerials.Load(path, "--client-crl-file");
        using var revoked = Certificate("revoked-client");
        Assert.Null(list.FirstRevoked([revoked]));
        certificates.WriteCrl("live.crl", "revoked-client");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // a later time even on a coarse clock
        Assert.Same(revoked, list.FirstRevoked([revoked]));
    }

    [Fact]
    public void A_file_that_is_not_a_revocation_list_is_refused_naming_the_flag_and_file()
    {
        var path = Path.Combine(certificates.Directory, "not.crl");
        File.WriteAllText(path, File.ReadAllText(certificates.CaFile)); // a certificate, not a list
        var exception = Assert.Throws<TransportSecurityException>(() => RevokedSerials.Load(path, "--peer-crl-file"));
        Assert.StartsWith($"--peer-crl-file {path}: ", exception.Message);
        var missing = Path.Combine(certificates.Directory, "missing.crl");
        Assert.StartsWith($"--client-crl-file {missing}: ", Assert.Throws<TransportSecurityException>(() => RevokedSerials.Load(missing, "--client-crl-file")).Message);
    }
}
