using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;

namespace HttpKv.Api.Gateway;

/// <summary>
/// One pass over a /v3/kv/put or /v3/kv/range body straight into the request message, for the bodies clients send:
/// a flat object of known fields with plain values. Anything else — an unknown or repeated field, null, an escaped
/// string, a number that is not a plain integer, an enum given as a number, malformed JSON — returns false and the
/// caller takes <see cref="ProtoJsonReader"/>, the general path, which decides it.
/// What this path accepts it reads to the same message as the general path (a test compares them): the general path
/// finds every member first and decodes them by reflection in declaration order.
/// </summary>
internal static class GatewayJsonReader
{
    private enum Kind
    {
        Bytes,
        Int64,
        Bool,
        SortOrder,
        SortTarget,
    }

    /// <summary>Reads <paramref name="body"/> (one JSON value Go's scanner accepted) when the request type and the body allow it.</summary>
    public static bool TryRead<TRequest>(ReadOnlySpan<byte> body, out TRequest request) where TRequest : IMessage<TRequest>, new()
    {
        request = default!;
        IMessage? read = typeof(TRequest) == typeof(PutRequest) ? TryRead(body, new PutRequest(), PutField, SetPut)
            : typeof(TRequest) == typeof(RangeRequest) ? TryRead(body, new RangeRequest(), RangeField, SetRange)
            : null;
        if (read is null) return false;
        request = (TRequest)read;
        return true;
    }

    private delegate (int Number, Kind Kind) FieldLookup(ref Utf8JsonReader reader);

    private delegate void Setter<in TMessage>(TMessage message, int number, in Value value);

    /// <summary>A decoded value: the member its kind uses.</summary>
    private readonly struct Value
    {
        public ByteString Bytes { get; init; }
        public long Number { get; init; }
        public bool Flag { get; init; }
    }

    private static TMessage? TryRead<TMessage>(ReadOnlySpan<byte> body, TMessage message, FieldLookup lookup, Setter<TMessage> set)
        where TMessage : class, IMessage
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            ulong seen = 0;
            while (true)
            {
                if (!reader.Read()) return null;
                if (reader.TokenType == JsonTokenType.EndObject) return message; // what follows the first value is ignored, as before
                if (reader.TokenType != JsonTokenType.PropertyName || reader.ValueIsEscaped) return null;
                var (number, kind) = lookup(ref reader);
                if (number == 0 || (seen & (1UL << number)) != 0) return null;
                seen |= 1UL << number;
                if (!reader.Read() || !TryValue(ref reader, kind, out var value)) return null;
                set(message, number, value);
            }
        }
        catch (JsonException)
        {
            return null; // the general path reports it
        }
    }

    private static bool TryValue(ref Utf8JsonReader reader, Kind kind, out Value value)
    {
        value = default;
        switch (kind)
        {
            case Kind.Bool when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                value = new Value { Flag = reader.TokenType == JsonTokenType.True };
                return true;
            case Kind.Int64 when reader.TokenType is JsonTokenType.Number || reader.TokenType is JsonTokenType.String && !reader.ValueIsEscaped:
                if (!TryInteger(reader.ValueSpan, out var number)) return false;
                value = new Value { Number = number };
                return true;
            case Kind.Bytes when reader.TokenType is JsonTokenType.String && !reader.ValueIsEscaped:
                if (!TryBase64(reader.ValueSpan, out var bytes)) return false;
                value = new Value { Bytes = bytes };
                return true;
            case Kind.SortOrder when reader.TokenType is JsonTokenType.String && !reader.ValueIsEscaped:
                value = new Value
                {
                    Number = reader.ValueSpan switch
                    {
                        var name when name.SequenceEqual("NONE"u8) => 0,
                        var name when name.SequenceEqual("ASCEND"u8) => 1,
                        var name when name.SequenceEqual("DESCEND"u8) => 2,
                        _ => -1,
                    }
                };
                return value.Number >= 0;
            case Kind.SortTarget when reader.TokenType is JsonTokenType.String && !reader.ValueIsEscaped:
                value = new Value
                {
                    Number = reader.ValueSpan switch
                    {
                        var name when name.SequenceEqual("KEY"u8) => 0,
                        var name when name.SequenceEqual("VERSION"u8) => 1,
                        var name when name.SequenceEqual("CREATE"u8) => 2,
                        var name when name.SequenceEqual("MOD"u8) => 3,
                        var name when name.SequenceEqual("VALUE"u8) => 4,
                        _ => -1,
                    }
                };
                return value.Number >= 0;
            default:
                return false;
        }
    }

    /// <summary>A plain decimal integer: an optional minus, then "0" or digits without a leading zero (the forms the
    /// general path reads the same way; anything else, such as "-0", a fraction or an exponent, is left to it).</summary>
    private static bool TryInteger(ReadOnlySpan<byte> text, out long number)
    {
        number = 0;
        var digits = text.Length > 0 && text[0] == (byte)'-' ? text[1..] : text;
        if (digits.IsEmpty || digits.ContainsAnyExceptInRange((byte)'0', (byte)'9')) return false;
        if (digits[0] == (byte)'0' && (digits.Length > 1 || digits.Length != text.Length)) return false; // "01", "-0"
        return Utf8Parser.TryParse(text, out number, out var consumed) && consumed == text.Length;
    }

    /// <summary>Standard base64 as Go decodes it; anything it refuses goes to the general path, which reports it.</summary>
    private static bool TryBase64(ReadOnlySpan<byte> text, out ByteString bytes)
    {
        bytes = ByteString.Empty;
        if (text.IsEmpty) return true;
        var maxBytes = text.Length / 4 * 3 + 3;
        byte[]? rented = maxBytes > 512 ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        try
        {
            Span<byte> decoded = rented is null ? stackalloc byte[maxBytes] : rented.AsSpan(0, maxBytes);
            var written = GoJson.DecodeBase64(text, decoded, out _);
            if (written < 0) return false;
            bytes = ByteString.CopyFrom(decoded[..written]);
            return true;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static (int, Kind) PutField(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("key"u8) ? (1, Kind.Bytes)
        : reader.ValueTextEquals("value"u8) ? (2, Kind.Bytes)
        : reader.ValueTextEquals("lease"u8) ? (3, Kind.Int64)
        : reader.ValueTextEquals("prev_kv"u8) || reader.ValueTextEquals("prevKv"u8) ? (4, Kind.Bool)
        : reader.ValueTextEquals("ignore_value"u8) || reader.ValueTextEquals("ignoreValue"u8) ? (5, Kind.Bool)
        : reader.ValueTextEquals("ignore_lease"u8) || reader.ValueTextEquals("ignoreLease"u8) ? (6, Kind.Bool)
        : (0, Kind.Bytes);

    private static void SetPut(PutRequest put, int number, in Value value)
    {
        switch (number)
        {
            case 1: put.Key = value.Bytes; break;
            case 2: put.Value = value.Bytes; break;
            case 3: put.Lease = value.Number; break;
            case 4: put.PrevKv = value.Flag; break;
            case 5: put.IgnoreValue = value.Flag; break;
            case 6: put.IgnoreLease = value.Flag; break;
        }
    }

    private static (int, Kind) RangeField(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("key"u8) ? (1, Kind.Bytes)
        : reader.ValueTextEquals("range_end"u8) || reader.ValueTextEquals("rangeEnd"u8) ? (2, Kind.Bytes)
        : reader.ValueTextEquals("limit"u8) ? (3, Kind.Int64)
        : reader.ValueTextEquals("revision"u8) ? (4, Kind.Int64)
        : reader.ValueTextEquals("sort_order"u8) || reader.ValueTextEquals("sortOrder"u8) ? (5, Kind.SortOrder)
        : reader.ValueTextEquals("sort_target"u8) || reader.ValueTextEquals("sortTarget"u8) ? (6, Kind.SortTarget)
        : reader.ValueTextEquals("serializable"u8) ? (7, Kind.Bool)
        : reader.ValueTextEquals("keys_only"u8) || reader.ValueTextEquals("keysOnly"u8) ? (8, Kind.Bool)
        : reader.ValueTextEquals("count_only"u8) || reader.ValueTextEquals("countOnly"u8) ? (9, Kind.Bool)
        : reader.ValueTextEquals("min_mod_revision"u8) || reader.ValueTextEquals("minModRevision"u8) ? (10, Kind.Int64)
        : reader.ValueTextEquals("max_mod_revision"u8) || reader.ValueTextEquals("maxModRevision"u8) ? (11, Kind.Int64)
        : reader.ValueTextEquals("min_create_revision"u8) || reader.ValueTextEquals("minCreateRevision"u8) ? (12, Kind.Int64)
        : reader.ValueTextEquals("max_create_revision"u8) || reader.ValueTextEquals("maxCreateRevision"u8) ? (13, Kind.Int64)
        : (0, Kind.Bytes);

    private static void SetRange(RangeRequest range, int number, in Value value)
    {
        switch (number)
        {
            case 1: range.Key = value.Bytes; break;
            case 2: range.RangeEnd = value.Bytes; break;
            case 3: range.Limit = value.Number; break;
            case 4: range.Revision = value.Number; break;
            case 5: range.SortOrder = (RangeRequest.Types.SortOrder)value.Number; break;
            case 6: range.SortTarget = (RangeRequest.Types.SortTarget)value.Number; break;
            case 7: range.Serializable = value.Flag; break;
            case 8: range.KeysOnly = value.Flag; break;
            case 9: range.CountOnly = value.Flag; break;
            case 10: range.MinModRevision = value.Number; break;
            case 11: range.MaxModRevision = value.Number; break;
            case 12: range.MinCreateRevision = value.Number; break;
            case 13: range.MaxCreateRevision = value.Number; break;
        }
    }
}
