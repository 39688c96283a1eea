using System.Text;
using Google.Protobuf;

namespace HttpKv.Api.Rest;

/// <summary>How the REST API names keys in URLs and shows bytes in JSON.</summary>
/// <remarks>
/// <para>A key is the request path after <c>/api/v1/keys/</c>, taken from the raw request target and percent-decoded
/// to bytes: any byte may be written <c>%XX</c> (so <c>%2F</c> and <c>/</c> are both a slash, <c>%25</c> a percent
/// sign, <c>%FF</c> the byte 0xFF), and other characters stand for their UTF-8 bytes. In the query string the same
/// holds, and <c>+</c> is a space (as browsers' forms and URLSearchParams write it); write <c>%2B</c> for a plus.</para>
/// <para>In JSON, bytes that are valid UTF-8 are shown as a string with encoding <c>utf-8</c>; any other bytes as
/// base64 with encoding <c>base64</c>.</para>
/// </remarks>
public static class KeyText
{
    public const string Utf8 = "utf-8";
    public const string Base64 = "base64";

    /// <summary>The bytes of a percent-encoded URL part; throws FormatException on a malformed escape.</summary>
    public static byte[] Decode(ReadOnlySpan<char> encoded, bool plusIsSpace)
    {
        var bytes = new List<byte>(encoded.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < encoded.Length; i++)
        {
            var c = encoded[i];
            if (c == '%')
            {
                if (i + 2 >= encoded.Length || !IsHex(encoded[i + 1]) || !IsHex(encoded[i + 2]))
                    throw new FormatException($"malformed percent escape at character {i + 1}: write a percent sign as %25");
                bytes.Add(Convert.ToByte(encoded.Slice(i + 1, 2).ToString(), 16));
                i += 2;
            }
            else if (c == '+' && plusIsSpace)
            {
                bytes.Add((byte)' ');
            }
            else if (char.IsHighSurrogate(c) && i + 1 < encoded.Length)
            {
                var written = Encoding.UTF8.GetBytes(encoded.Slice(i, 2), utf8);
                bytes.AddRange(utf8[..written]);
                i++;
            }
            else
            {
                var written = Encoding.UTF8.GetBytes(encoded.Slice(i, 1), utf8);
                bytes.AddRange(utf8[..written]);
            }
        }
        return [.. bytes];
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    /// <summary>Percent-encodes bytes for a URL path (keeping <c>/</c>) or a query value.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes, bool keepSlash)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~' || (keepSlash && b == '/'))
                text.Append((char)b);
            else
                text.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    /// <summary>The bytes as JSON shows them, and which encoding that is.</summary>
    public static (string Text, string Encoding) Show(ByteString bytes)
    {
        var span = bytes.Span;
        return System.Text.Unicode.Utf8.IsValid(span) ? (bytes.ToStringUtf8(), Utf8) : (bytes.ToBase64(), Base64);
    }

    /// <summary>The query value named <paramref name="name"/> of the raw query string, as bytes; null when absent.</summary>
    public static byte[]? QueryBytes(string? rawQuery, string name)
    {
        if (string.IsNullOrEmpty(rawQuery)) return null;
        foreach (var part in rawQuery.TrimStart('?').Split('&'))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? part : part[..equals];
            if (key == name) return Decode(equals < 0 ? "" : part.AsSpan(equals + 1), plusIsSpace: true);
        }
        return null;
    }

    /// <summary>The first key after every key starting with <paramref name="prefix"/> (etcd's prefix range end);
    /// the whole keyspace's end (a zero byte) when the prefix is empty or all 0xFF.</summary>
    public static byte[] PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        var end = prefix.ToArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }
        return [0];
    }
}
