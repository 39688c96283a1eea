using System.Text.RegularExpressions;

namespace HttpKv.Configuration;

/// <summary>Checks and normalizes a flag value the way etcd's Go <c>flag.Value</c> types do.</summary>
internal static partial class EtcdFlagValues
{
    /// <summary>
    /// Returns the normalized value, or null when etcd would reject it.
    /// Booleans normalize to <c>true</c>/<c>false</c>; everything else is kept as given.
    /// </summary>
    public static string? Normalize(EtcdFlag flag, string value) => flag.Kind switch
    {
        EtcdFlagKind.Bool => ParseGoBool(value) is { } parsed ? (parsed ? "true" : "false") : null,
        EtcdFlagKind.Ignored => value,
        EtcdFlagKind.Int => IsGoInteger(value, signed: true, maxUnsigned: ulong.MaxValue) ? value : null,
        EtcdFlagKind.UInt => IsGoInteger(value, signed: false, maxUnsigned: ulong.MaxValue) ? value : null,
        EtcdFlagKind.UInt32 => IsGoInteger(value, signed: false, maxUnsigned: uint.MaxValue) ? value : null,
        EtcdFlagKind.Duration => GoDuration().IsMatch(value) ? value : null,
        EtcdFlagKind.UrlList => IsUrlList(value) ? value : null,
        EtcdFlagKind.Choice => flag.Choices!.Contains(value, StringComparer.Ordinal) ? value : null,
        EtcdFlagKind.String or EtcdFlagKind.StringList => value,
        _ => throw new InvalidOperationException($"flag kind {flag.Kind} has no parser"),
    };

    /// <summary>Go's <c>strconv.ParseBool</c>.</summary>
    public static bool? ParseGoBool(string value) => value switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => null,
    };

    /// <summary>Go's <c>strconv.ParseInt/ParseUint(s, 0, 64)</c>: decimal, 0x hex, 0o/0 octal, 0b binary, '_' separators after a prefix.</summary>
    private static bool IsGoInteger(string value, bool signed, ulong maxUnsigned)
    {
        var text = value;
        var negative = false;
        if (signed && text.Length > 0 && (text[0] == '-' || text[0] == '+'))
        {
            negative = text[0] == '-';
            text = text[1..];
        }
        var (digits, radix) = SplitRadix(text);
        if (digits.Length == 0 || !TryParseUnsigned(digits.Replace("_", "", StringComparison.Ordinal), radix, out var magnitude))
        {
            return false;
        }
        if (!signed)
        {
            return magnitude <= maxUnsigned;
        }
        return negative ? magnitude <= (ulong)long.MaxValue + 1 : magnitude <= long.MaxValue;
    }

    private static (string Digits, int Radix) SplitRadix(string text)
    {
        if (text.Length > 2 && text[0] == '0')
        {
            switch (char.ToLowerInvariant(text[1]))
            {
                case 'x': return (text[2..], 16);
                case 'b': return (text[2..], 2);
                case 'o': return (text[2..], 8);
            }
        }
        return text.Length > 1 && text[0] == '0' ? (text[1..], 8) : (text, 10);
    }

    private static bool TryParseUnsigned(string digits, int radix, out ulong result)
    {
        result = 0;
        if (digits.Length == 0)
        {
            return false;
        }
        foreach (var character in digits)
        {
            var digit = HexDigitValue(character);
            if (digit < 0 || digit >= radix)
            {
                return false;
            }
            var next = unchecked(result * (ulong)radix + (ulong)digit);
            if (result > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                return false;
            }
            result = next;
        }
        return true;
    }

    private static int HexDigitValue(char character) => character switch
    {
        >= '0' and <= '9' => character - '0',
        >= 'a' and <= 'f' => character - 'a' + 10,
        >= 'A' and <= 'F' => character - 'A' + 10,
        _ => -1,
    };

    /// <summary>etcd's <c>types.NewURLs</c>: every comma-separated entry an absolute http(s)/unix(s) URL with a host.</summary>
    private static bool IsUrlList(string value)
    {
        if (value.Length == 0)
        {
            return true; // etcd's UniqueURLsWithExceptions lets "" through as "no URLs".
        }
        foreach (var entry in value.Split(','))
        {
            var trimmed = entry.Trim();
            if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri)
                || uri.Scheme is not ("http" or "https" or "unix" or "unixs")
                || string.IsNullOrEmpty(uri.Host))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Go's <c>time.ParseDuration</c>: "0", or signed sequence of decimal numbers each with a unit.</summary>
    [GeneratedRegex(@"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$", RegexOptions.CultureInvariant)]
    private static partial Regex GoDuration();

    internal static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
