using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HttpKv.Server.Transport;

/// <summary>
/// etcd's <c>--client-crl-file</c> / <c>--peer-crl-file</c>: the serial numbers a certificate revocation list (PEM
/// <c>X509 CRL</c> or DER) revokes. A certificate presented in a handshake is refused when it, or any certificate
/// presented with it, has one of them, as etcd's listener checks it. Like etcd, the list is not checked against its
/// issuer's signature; unlike etcd, which reads the file at every handshake, it is read again only when the file
/// changes (its time and length), and a file that cannot be read or parsed is refused at start.
/// </summary>
public sealed class RevokedSerials
{
    private readonly string path;
    private readonly Lock gate = new();
    private (DateTime Modified, long Length) version;
    private HashSet<string> serials;

    private RevokedSerials(string path, string flag, (DateTime, long) version, HashSet<string> serials)
    {
        this.path = path;
        Flag = flag;
        this.version = version;
        this.serials = serials;
    }

    public string Path => path;

    /// <summary>The flag that named the file (<c>--client-crl-file</c> or <c>--peer-crl-file</c>), for messages.</summary>
    public string Flag { get; }

    /// <summary>Reads <paramref name="path"/>; throws <see cref="TransportSecurityException"/> naming the flag and file.</summary>
    public static RevokedSerials Load(string path, string flag)
    {
        try
        {
            return new RevokedSerials(path, flag, VersionOf(path), Parse(File.ReadAllBytes(path)));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or AsnContentException or CryptographicException)
        {
            throw new TransportSecurityException($"{flag} {path}: {exception.Message}", exception);
        }
    }

    private static (DateTime, long) VersionOf(string path)
    {
        var info = new FileInfo(path);
        return (info.LastWriteTimeUtc, info.Length);
    }

    /// <summary>The first revoked certificate among <paramref name="certificates"/>, or null.</summary>
    public X509Certificate2? FirstRevoked(IEnumerable<X509Certificate2> certificates)
    {
        var current = Current();
        return certificates.FirstOrDefault(certificate => current.Contains(Normalize(certificate.SerialNumberBytes.Span, bigEndian: true)));
    }

    private HashSet<string> Current()
    {
        lock (gate)
        {
            try
            {
                var now = VersionOf(path);
                if (now != version)
                {
                    serials = Parse(File.ReadAllBytes(path));
                    version = now;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or AsnContentException or CryptographicException)
            {
                // A list being rewritten, or gone: keep refusing what the last good one refused.
            }
            return serials;
        }
    }

    /// <summary>The revoked serials of a CRL (RFC 5280 §5.1: CertificateList → TBSCertList → revokedCertificates).</summary>
    internal static HashSet<string> Parse(byte[] file)
    {
        var der = file;
        var text = System.Text.Encoding.ASCII.GetString(file);
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            var fields = PemEncoding.Find(text);
            if (text[fields.Label] != "X509 CRL") throw new FormatException($"a PEM block \"{text[fields.Label]}\", not \"X509 CRL\"");
            der = Convert.FromBase64String(text[fields.Base64Data]);
        }
        var serials = new HashSet<string>(StringComparer.Ordinal);
        var list = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        var tbs = list.ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer)) tbs.ReadInteger(); // version
        tbs.ReadSequence(); // signature algorithm
        tbs.ReadSequence(); // issuer
        ReadTime(tbs); // thisUpdate
        if (tbs.HasData && IsTime(tbs.PeekTag())) ReadTime(tbs); // nextUpdate
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var revoked = tbs.ReadSequence();
            while (revoked.HasData)
            {
                var entry = revoked.ReadSequence();
                serials.Add(Normalize(entry.ReadIntegerBytes().Span, bigEndian: true));
            }
        }
        return serials;
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static void ReadTime(AsnReader reader)
    {
        if (reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime)) reader.ReadUtcTime();
        else reader.ReadGeneralizedTime();
    }

    /// <summary>A serial as hex of its big-endian magnitude without leading zero bytes (Go's big.Int.Bytes()).</summary>
    private static string Normalize(ReadOnlySpan<byte> serial, bool bigEndian)
    {
        var bytes = serial.ToArray();
        if (!bigEndian) Array.Reverse(bytes);
        var start = 0;
        while (start < bytes.Length - 1 && bytes[start] == 0) start++;
        return Convert.ToHexString(bytes, start, bytes.Length - start);
    }
}
