using System.Buffers;
using System.Globalization;
using System.Text;

namespace HttpKv.Api.Gateway;

/// <summary>
/// What Go's <c>encoding/json</c> does where etcd's gateway lets a client see it: how it escapes a string, how its
/// scanner words a syntax error, how it words a value of the wrong type, and how its base64 refuses input. etcd's
/// gateway (grpc-gateway v1 with golang/protobuf's jsonpb) reads and writes every body through that package, so
/// these are the bytes and the error texts of etcd's /v3 routes.
/// </summary>
/// <remarks>Written from the behaviour of Go's encoding/json and encoding/base64 (documented and observed), not
/// from their code; <c>docs/gateway-json.md</c> lists the rules.</remarks>
public static class GoJson
{
    /// <summary>Go's nesting limit for the scanner.</summary>
    public const int MaxDepth = 10000;

    private static readonly byte[] Hex = "0123456789abcdef"u8.ToArray();

    // ------------------------------------------------------------------------------------------------ writing

    /// <summary>Writes <paramref name="value"/> quoted as Go's json.Marshal does: <c>"</c> and <c>\</c> escaped,
    /// \b \f \n \r \t by name, other control characters and <c>&lt; &gt; &amp;</c>, U+2028 and U+2029 as \u00XX /
    /// \u20XX (lower-case hex), everything else as UTF-8 (an unpaired surrogate as U+FFFD).</summary>
    public static void WriteString(IBufferWriter<byte> output, string value)
    {
        var span = output.GetSpan(value.Length + 2);
        if (span.Length >= value.Length + 2 && IsPlainAscii(value))
        {
            // The common case (names, messages, URLs): one copy, nothing to escape.
            span[0] = (byte)'"';
            for (var i = 0; i < value.Length; i++) span[i + 1] = (byte)value[i];
            span[value.Length + 1] = (byte)'"';
            output.Advance(value.Length + 2);
            return;
        }
        Write(output, (byte)'"');
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in EnumerateRunes(value))
        {
            var c = rune.Value;
            switch (c)
            {
                case '"': Write(output, "\\\""u8); break;
                case '\\': Write(output, "\\\\"u8); break;
                case '\b': Write(output, "\\b"u8); break;
                case '\f': Write(output, "\\f"u8); break;
                case '\n': Write(output, "\\n"u8); break;
                case '\r': Write(output, "\\r"u8); break;
                case '\t': Write(output, "\\t"u8); break;
                case < 0x20 or '<' or '>' or '&' or 0x2028 or 0x2029:
                    Write(output, "\\u"u8);
                    Write(output, Hex[(c >> 12) & 0xF]);
                    Write(output, Hex[(c >> 8) & 0xF]);
                    Write(output, Hex[(c >> 4) & 0xF]);
                    Write(output, Hex[c & 0xF]);
                    break;
                default:
                    var length = rune.EncodeToUtf8(utf8);
                    Write(output, utf8[..length]);
                    break;
            }
        }
        Write(output, (byte)'"');
    }

    /// <summary><paramref name="value"/> as <see cref="WriteString(IBufferWriter{byte}, string)"/> writes it.</summary>
    public static string Quote(string value)
    {
        var buffer = new ArrayBufferWriter<byte>(value.Length + 2);
        WriteString(buffer, value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static bool IsPlainAscii(string value)
    {
        foreach (var c in value)
        {
            if (c < 0x20 || c > 0x7E || c is '"' or '\\' or '<' or '>' or '&') return false;
        }
        return true;
    }

    private static IEnumerable<Rune> EnumerateRunes(string value)
    {
        for (var i = 0; i < value.Length;)
        {
            var status = Rune.DecodeFromUtf16(value.AsSpan(i), out var rune, out var consumed);
            yield return status == OperationStatus.Done ? rune : Rune.ReplacementChar;
            i += Math.Max(consumed, 1);
        }
    }

    private static void Write(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    // ------------------------------------------------------------------------------------------------ scanning

    /// <summary>Reads the first JSON value of a request body as Go's json.Decoder does: leading white space skipped,
    /// what follows the value ignored. Returns false for a body of white space only (the decoder's io.EOF, which the
    /// gateway takes as the empty message); throws <see cref="GoJsonException"/> with the decoder's text for
    /// anything malformed ("unexpected EOF" for a body that ends inside the value).</summary>
    public static bool TryReadFirstValue(ReadOnlySpan<byte> body, out int start, out int end)
    {
        start = SkipSpace(body, 0);
        end = start;
        if (start == body.Length) return false;
        end = ScanValue(body, start, topLevel: true);
        return true;
    }

    /// <summary>Checks that <paramref name="text"/> is one JSON value with nothing but white space around it, as
    /// json.Unmarshal does before decoding; throws <see cref="GoJsonException"/> with its text otherwise.</summary>
    public static void CheckValid(ReadOnlySpan<byte> text)
    {
        var start = SkipSpace(text, 0);
        if (start == text.Length) throw new GoJsonException("unexpected end of JSON input");
        var end = ScanValue(text, start, topLevel: false);
        end = SkipSpace(text, end);
        if (end < text.Length) throw Syntax(text[end], "after top-level value");
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    private static int SkipSpace(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && IsSpace(text[i])) i++;
        return i;
    }

    /// <summary>Go's SyntaxError text for byte <paramref name="c"/>.</summary>
    private static GoJsonException Syntax(byte c, string context) => new($"invalid character {QuoteChar(c)} {context}");

    /// <summary>The end of input inside a value. The decoder reports io.ErrUnexpectedEOF; json.Unmarshal feeds its
    /// scanner one space first, so where a space is itself an error (<paramref name="spaceContext"/>: inside a number,
    /// a literal or an escape) that is its text, and "unexpected end of JSON input" elsewhere.</summary>
    private static GoJsonException Truncated(bool topLevel, string? spaceContext = null) =>
        topLevel ? new("unexpected EOF") : spaceContext is null ? new("unexpected end of JSON input") : Syntax((byte)' ', spaceContext);

    /// <summary>Go's quoteChar: a byte as a rune in single quotes, with strconv.Quote's escapes.</summary>
    private static string QuoteChar(byte c) => c switch
    {
        (byte)'\'' => @"'\''",
        (byte)'"' => "'\"'",
        _ => "'" + GoQuote(((char)c).ToString())[1..^1] + "'",
    };

    /// <summary>Go's strconv.Quote (and fmt's %q) for text: printable runes as they are, the rest escaped.</summary>
    public static string GoQuote(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var rune in EnumerateRunes(text))
        {
            var c = rune.Value;
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\a': builder.Append("\\a"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\v': builder.Append("\\v"); break;
                default:
                    if (IsGoPrintable(rune)) builder.Append(rune.ToString());
                    else if (c < 0x80) builder.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
                    else if (c < 0x10000) builder.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
                    else builder.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    /// <summary>Go's unicode.IsPrint, near enough: letters, marks, numbers, punctuation, symbols and the ASCII space.</summary>
    private static bool IsGoPrintable(Rune rune)
    {
        if (rune.Value == ' ') return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator => false,
            _ => true,
        };
    }

    /// <summary>Scans one value starting at <paramref name="i"/> (not white space); returns the index after it.
    /// Iterative, so nesting costs no stack; nesting deeper than Go's limit is refused as Go refuses it.</summary>
    private static int ScanValue(ReadOnlySpan<byte> text, int i, bool topLevel)
    {
        // The open containers: true for an object, false for an array.
        var open = new Stack<bool>();
        while (true)
        {
            // At the start of a value.
            if (i == text.Length) throw Truncated(topLevel);
            var c = text[i];
            switch (c)
            {
                case (byte)'{':
                case (byte)'[':
                    if (open.Count == MaxDepth) throw Syntax(c, "exceeded max depth");
                    open.Push(c == (byte)'{');
                    i = SkipSpace(text, i + 1);
                    if (i == text.Length) throw Truncated(topLevel);
                    if (c == (byte)'{')
                    {
                        if (text[i] == (byte)'}')
                        {
                            open.Pop();
                            i++;
                            break;
                        }
                        i = ObjectKey(text, i, topLevel);
                        continue;
                    }
                    if (text[i] == (byte)']')
                    {
                        open.Pop();
                        i++;
                        break;
                    }
                    continue;
                case (byte)'"':
                    i = ScanString(text, i, topLevel);
                    break;
                case (byte)'-':
                case >= (byte)'0' and <= (byte)'9':
                    i = ScanNumber(text, i, topLevel);
                    break;
                case (byte)'t':
                    i = ScanLiteral(text, i, "true", topLevel);
                    break;
                case (byte)'f':
                    i = ScanLiteral(text, i, "false", topLevel);
                    break;
                case (byte)'n':
                    i = ScanLiteral(text, i, "null", topLevel);
                    break;
                default:
                    throw Syntax(c, "looking for beginning of value");
            }

            // After a value: close what ends here, or move to the next member or element.
            while (true)
            {
                if (open.Count == 0) return i;
                i = SkipSpace(text, i);
                if (i == text.Length) throw Truncated(topLevel);
                c = text[i];
                var inObject = open.Peek();
                if (c == (byte)',')
                {
                    i = SkipSpace(text, i + 1);
                    if (inObject)
                    {
                        if (i == text.Length) throw Truncated(topLevel);
                        i = ObjectKey(text, i, topLevel);
                    }
                    break;
                }
                if (c == (inObject ? (byte)'}' : (byte)']'))
                {
                    open.Pop();
                    i++;
                    continue;
                }
                throw Syntax(c, inObject ? "after object key:value pair" : "after array element");
            }
            i = SkipSpace(text, i);
        }
    }

    /// <summary>An object's key and its colon, at <paramref name="i"/>; returns the index of the member's value.</summary>
    private static int ObjectKey(ReadOnlySpan<byte> text, int i, bool topLevel)
    {
        if (text[i] != (byte)'"') throw Syntax(text[i], "looking for beginning of object key string");
        i = SkipSpace(text, ScanString(text, i, topLevel));
        if (i == text.Length) throw Truncated(topLevel);
        if (text[i] != (byte)':') throw Syntax(text[i], "after object key");
        i = SkipSpace(text, i + 1);
        return i;
    }

    private static int ScanString(ReadOnlySpan<byte> text, int i, bool topLevel)
    {
        i++; // the opening quote
        while (true)
        {
            if (i == text.Length) throw Truncated(topLevel);
            var c = text[i++];
            if (c == (byte)'"') return i;
            if (c < 0x20) throw Syntax(c, "in string literal");
            if (c != (byte)'\\') continue;
            if (i == text.Length) throw Truncated(topLevel, "in string escape code");
            c = text[i++];
            if (c is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t') continue;
            if (c != (byte)'u') throw Syntax(c, "in string escape code");
            for (var k = 0; k < 4; k++)
            {
                if (i == text.Length) throw Truncated(topLevel, "in \\u hexadecimal character escape");
                if (!Uri.IsHexDigit((char)text[i])) throw Syntax(text[i], "in \\u hexadecimal character escape");
                i++;
            }
        }
    }

    private static int ScanNumber(ReadOnlySpan<byte> text, int i, bool topLevel)
    {
        if (text[i] == (byte)'-')
        {
            i++;
            if (i == text.Length) throw Truncated(topLevel, "in numeric literal");
            if (!IsDigit(text[i])) throw Syntax(text[i], "in numeric literal");
        }
        if (text[i] == (byte)'0') i++;
        else while (i < text.Length && IsDigit(text[i])) i++;
        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            if (i == text.Length) throw Truncated(topLevel, "after decimal point in numeric literal");
            if (!IsDigit(text[i])) throw Syntax(text[i], "after decimal point in numeric literal");
            while (i < text.Length && IsDigit(text[i])) i++;
        }
        if (i < text.Length && text[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < text.Length && text[i] is (byte)'+' or (byte)'-') i++;
            if (i == text.Length) throw Truncated(topLevel, "in exponent of numeric literal");
            if (!IsDigit(text[i])) throw Syntax(text[i], "in exponent of numeric literal");
            while (i < text.Length && IsDigit(text[i])) i++;
        }
        return i;
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';

    private static int ScanLiteral(ReadOnlySpan<byte> text, int i, string literal, bool topLevel)
    {
        for (var k = 1; k < literal.Length; k++)
        {
            var context = $"in literal {literal} (expecting '{literal[k]}')";
            if (i + k == text.Length) throw Truncated(topLevel, context);
            if (text[i + k] != literal[k]) throw Syntax(text[i + k], context);
        }
        return i + literal.Length;
    }

    // ------------------------------------------------------------------------------------------------ reading valid text

    /// <summary>The kind of a valid JSON value by its first byte, in the words Go's type errors use.</summary>
    public static string KindName(ReadOnlySpan<byte> value) => value[0] switch
    {
        (byte)'{' => "object",
        (byte)'[' => "array",
        (byte)'"' => "string",
        (byte)'t' or (byte)'f' => "bool",
        (byte)'n' => "null",
        _ => "number",
    };

    /// <summary>Go's UnmarshalTypeError text.</summary>
    public static GoJsonException TypeError(string value, string goType) => new($"json: cannot unmarshal {value} into Go value of type {goType}");

    /// <summary>The members of a valid object, in order (a key given twice appears twice; the caller keeps the last).</summary>
    public static List<(string Key, Range Value)> Members(ReadOnlySpan<byte> text, Range objectRange)
    {
        var (offset, length) = objectRange.GetOffsetAndLength(text.Length);
        var members = new List<(string, Range)>();
        var i = SkipSpace(text, offset + 1);
        var end = offset + length - 1; // the closing brace
        while (i < end)
        {
            var keyEnd = SkipValid(text, i);
            var key = Unquote(text[i..keyEnd]);
            var valueStart = SkipSpace(text, SkipSpace(text, keyEnd) + 1);
            var valueEnd = SkipValid(text, valueStart);
            members.Add((key, valueStart..valueEnd));
            i = SkipSpace(text, valueEnd);
            if (i < end && text[i] == (byte)',') i = SkipSpace(text, i + 1);
        }
        return members;
    }

    /// <summary>The elements of a valid array, in order.</summary>
    public static List<Range> Elements(ReadOnlySpan<byte> text, Range arrayRange)
    {
        var (offset, length) = arrayRange.GetOffsetAndLength(text.Length);
        var elements = new List<Range>();
        var i = SkipSpace(text, offset + 1);
        var end = offset + length - 1;
        while (i < end)
        {
            var valueEnd = SkipValid(text, i);
            elements.Add(i..valueEnd);
            i = SkipSpace(text, valueEnd);
            if (i < end && text[i] == (byte)',') i = SkipSpace(text, i + 1);
        }
        return elements;
    }

    /// <summary>The end of the valid value at <paramref name="i"/>.</summary>
    private static int SkipValid(ReadOnlySpan<byte> text, int i)
    {
        var depth = 0;
        do
        {
            var c = text[i];
            if (c == (byte)'"')
            {
                i++;
                while (text[i] != (byte)'"') i += text[i] == (byte)'\\' ? 2 : 1;
                i++;
            }
            else if (c is (byte)'{' or (byte)'[')
            {
                depth++;
                i++;
            }
            else if (c is (byte)'}' or (byte)']')
            {
                depth--;
                i++;
            }
            else if (depth > 0)
            {
                i++; // white space, commas, colons and scalars inside a container
            }
            else
            {
                while (i < text.Length && !IsSpace(text[i]) && text[i] is not ((byte)',' or (byte)'}' or (byte)']' or (byte)':')) i++;
            }
        }
        while (depth > 0);
        return i;
    }

    /// <summary>The text of a valid string literal (quotes included) as Go decodes it: escapes resolved, invalid UTF-8
    /// and unpaired surrogate escapes as U+FFFD.</summary>
    public static string Unquote(ReadOnlySpan<byte> literal)
    {
        var inner = literal[1..^1];
        if (inner.IndexOf((byte)'\\') < 0) return Encoding.UTF8.GetString(inner); // GetString replaces invalid UTF-8 with U+FFFD
        var builder = new StringBuilder(inner.Length);
        var i = 0;
        while (i < inner.Length)
        {
            var next = inner[i..].IndexOf((byte)'\\');
            if (next < 0)
            {
                builder.Append(Encoding.UTF8.GetString(inner[i..]));
                break;
            }
            builder.Append(Encoding.UTF8.GetString(inner.Slice(i, next)));
            i += next + 1;
            var c = inner[i++];
            switch (c)
            {
                case (byte)'b': builder.Append('\b'); break;
                case (byte)'f': builder.Append('\f'); break;
                case (byte)'n': builder.Append('\n'); break;
                case (byte)'r': builder.Append('\r'); break;
                case (byte)'t': builder.Append('\t'); break;
                case (byte)'u':
                    var unit = ParseHex4(inner.Slice(i, 4));
                    i += 4;
                    if (char.IsHighSurrogate(unit) && i + 6 <= inner.Length && inner[i] == (byte)'\\' && inner[i + 1] == (byte)'u'
                        && char.IsLowSurrogate(ParseHex4(inner.Slice(i + 2, 4))))
                    {
                        builder.Append(unit).Append(ParseHex4(inner.Slice(i + 2, 4)));
                        i += 6;
                    }
                    else
                    {
                        builder.Append(char.IsSurrogate(unit) ? '\uFFFD' : unit);
                    }
                    break;
                default: builder.Append((char)c); break; // " \ /
            }
        }
        return builder.ToString();
    }

    private static char ParseHex4(ReadOnlySpan<byte> hex) =>
        (char)int.Parse(Encoding.ASCII.GetString(hex), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------------------------------------ base64

    private static readonly sbyte[] Base64Values = BuildBase64Values();

    private static sbyte[] BuildBase64Values()
    {
        var values = new sbyte[256];
        Array.Fill(values, (sbyte)-1);
        var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"u8;
        for (var i = 0; i < alphabet.Length; i++) values[alphabet[i]] = (sbyte)i;
        return values;
    }

    /// <summary>Decodes standard, padded base64 as Go's base64.StdEncoding does (CR and LF ignored anywhere, nothing
    /// else), writing into <paramref name="output"/> (at least <c>source.Length / 4 * 3 + 3</c> bytes); the number of
    /// bytes written, or -1 with <paramref name="errorOffset"/> where Go reports "illegal base64 data at input byte N".</summary>
    public static int DecodeBase64(ReadOnlySpan<byte> source, Span<byte> output, out int errorOffset)
    {
        errorOffset = -1;
        var written = 0;
        var si = 0;
        Span<int> quantum = stackalloc int[4];
        while (si < source.Length)
        {
            var length = 4;
            for (var j = 0; j < 4; j++)
            {
                if (si == source.Length)
                {
                    if (j == 0) return written;
                    errorOffset = si - j; // a partial quantum without its padding
                    return -1;
                }
                var c = source[si++];
                var value = Base64Values[c];
                if (value >= 0)
                {
                    quantum[j] = value;
                    continue;
                }
                if (c is (byte)'\n' or (byte)'\r')
                {
                    j--;
                    continue;
                }
                if (c != (byte)'=' || j < 2)
                {
                    errorOffset = si - 1;
                    return -1;
                }
                if (j == 2)
                {
                    // "==" expected: the first is consumed.
                    while (si < source.Length && source[si] is (byte)'\n' or (byte)'\r') si++;
                    if (si == source.Length)
                    {
                        errorOffset = source.Length;
                        return -1;
                    }
                    if (source[si] != (byte)'=')
                    {
                        errorOffset = si - 1;
                        return -1;
                    }
                    si++;
                }
                while (si < source.Length && source[si] is (byte)'\n' or (byte)'\r') si++;
                if (si < source.Length) errorOffset = si; // trailing data after the padding
                length = j;
                break;
            }
            var bits = (quantum[0] << 18) | (quantum[1] << 12) | (length > 2 ? quantum[2] << 6 : 0) | (length > 3 ? quantum[3] : 0);
            output[written++] = (byte)(bits >> 16);
            if (length > 2) output[written++] = (byte)(bits >> 8);
            if (length > 3) output[written++] = (byte)bits;
            if (errorOffset >= 0) return -1;
            quantum.Clear();
        }
        return written;
    }

    /// <summary>Go's text for a base64 error at <paramref name="offset"/>.</summary>
    public static GoJsonException Base64Error(int offset) => new($"illegal base64 data at input byte {offset}");
}

/// <summary>A request body Go's encoding/json would refuse, with the text it gives (which etcd's gateway returns).</summary>
public sealed class GoJsonException(string message) : FormatException(message);
