using System.Collections;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace HttpKv.Api.Gateway;

/// <summary>
/// Reads a gateway request as etcd 3.5's gateway does (golang/protobuf's jsonpb over Go's encoding/json, unknown
/// fields ignored): a field by its proto name or its lowerCamel JSON name (the JSON name wins when both are given; a
/// key given twice, its last value), fields decoded in declaration order so the first field in that order with a bad
/// value is the one reported, <c>null</c> as an absent field, integers as numbers or quoted numbers, enums by name or
/// number, bytes as standard base64, and every refusal in Go's words (<see cref="GoJsonException"/>).
/// </summary>
public static class ProtoJsonReader
{
    /// <summary>How deep messages may nest in a request: Google.Protobuf's own limit for the same message over gRPC.</summary>
    public const int MaxMessageDepth = 100;

    /// <summary>Reads <paramref name="value"/>, one JSON value that <see cref="GoJson"/>'s scanner accepted.</summary>
    public static TRequest Read<TRequest>(ReadOnlySpan<byte> value) where TRequest : IMessage<TRequest>, new()
    {
        var request = new TRequest();
        ReadMessage(request, value, .., depth: 0);
        return request;
    }

    private static void ReadMessage(IMessage message, ReadOnlySpan<byte> text, Range range, int depth)
    {
        var value = text[range];
        if (value[0] == (byte)'n') return; // null: the empty message
        if (value[0] != (byte)'{') throw GoJson.TypeError(GoJson.KindName(value), "map[string]json.RawMessage");
        if (depth == MaxMessageDepth) throw new GoJsonException($"the request nests messages deeper than {MaxMessageDepth}");
        var members = new Dictionary<string, Range>(StringComparer.Ordinal);
        foreach (var (key, member) in GoJson.Members(text, range)) members[key] = member;
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            Range? raw = null;
            if (members.Remove(field.Name, out var byName)) raw = byName;
            if (members.Remove(field.JsonName, out var byJsonName)) raw = byJsonName;
            if (raw is not { } found || text[found].SequenceEqual("null"u8)) continue;
            if (GatewayJson.UnsupportedKind(field) is { } unsupported) throw new NotSupportedException(unsupported);
            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                if (text[found][0] != (byte)'[') throw GoJson.TypeError(GoJson.KindName(text[found]), "[]json.RawMessage");
                foreach (var element in GoJson.Elements(text, found)) list.Add(ReadSingular(field, text, element, depth));
            }
            else
            {
                field.Accessor.SetValue(message, ReadSingular(field, text, found, depth));
            }
        }
    }

    private static object ReadSingular(FieldDescriptor field, ReadOnlySpan<byte> text, Range range, int depth)
    {
        var value = text[range];
        switch (field.FieldType)
        {
            case FieldType.Message:
                var message = (IMessage)Activator.CreateInstance(field.MessageType.ClrType)!;
                ReadMessage(message, text, range, depth + 1);
                return message;
            case FieldType.Bool:
                return value[0] switch
                {
                    (byte)'t' => true,
                    (byte)'f' or (byte)'n' => false,
                    _ => throw GoJson.TypeError(GoJson.KindName(value), "bool"),
                };
            case FieldType.String:
                return value[0] switch
                {
                    (byte)'"' => GoJson.Unquote(value),
                    (byte)'n' => "",
                    _ => throw GoJson.TypeError(GoJson.KindName(value), "string"),
                };
            case FieldType.Bytes:
                return ReadBytes(text, range);
            case FieldType.Enum:
                return Enum.ToObject(field.EnumType.ClrType, ReadEnum(field.EnumType, value));
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                return (int)ReadInteger(value, "int32", int.MinValue, int.MaxValue);
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return (long)ReadInteger(value, "int64", long.MinValue, long.MaxValue);
            case FieldType.UInt32 or FieldType.Fixed32:
                return (uint)ReadUnsigned(value, "uint32", uint.MaxValue);
            case FieldType.UInt64 or FieldType.Fixed64:
                return ReadUnsigned(value, "uint64", ulong.MaxValue);
            default:
                throw new NotSupportedException($"{field.FullName}: {field.FieldType} fields are not read by the gateway reader");
        }
    }

    /// <summary>jsonpb's trimQuote: one pair of surrounding quotes removed, nothing unescaped.</summary>
    private static ReadOnlySpan<byte> TrimQuote(ReadOnlySpan<byte> value) =>
        value.Length >= 2 && value[0] == (byte)'"' && value[^1] == (byte)'"' ? value[1..^1] : value;

    /// <summary>What json.Unmarshal leaves of an integer field's text after trimQuote: null for JSON null, otherwise
    /// the number literal; anything else refused in Go's words.</summary>
    private static string? IntegerLiteral(ReadOnlySpan<byte> value, string goType)
    {
        var trimmed = TrimQuote(value);
        GoJson.CheckValid(trimmed);
        trimmed = trimmed.Trim(" \t\r\n"u8);
        var kind = GoJson.KindName(trimmed);
        if (kind == "null") return null;
        if (kind != "number") throw GoJson.TypeError(kind, goType);
        return Encoding.ASCII.GetString(trimmed);
    }

    private static long ReadInteger(ReadOnlySpan<byte> value, string goType, long min, long max)
    {
        if (IntegerLiteral(value, goType) is not { } literal) return 0;
        if (!long.TryParse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) || number < min || number > max)
            throw GoJson.TypeError("number " + literal, goType);
        return number;
    }

    private static ulong ReadUnsigned(ReadOnlySpan<byte> value, string goType, ulong max)
    {
        if (IntegerLiteral(value, goType) is not { } literal) return 0;
        if (!ulong.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > max)
            throw GoJson.TypeError("number " + literal, goType);
        return number;
    }

    private static int ReadEnum(EnumDescriptor type, ReadOnlySpan<byte> value)
    {
        if (value.Length >= 2 && value[0] == (byte)'"' && value[^1] == (byte)'"')
        {
            var name = Encoding.UTF8.GetString(value[1..^1]); // by name, as written: escapes are not resolved
            return type.FindValueByName(name)?.Number
                ?? throw new GoJsonException($"unknown value {GoJson.GoQuote(Encoding.UTF8.GetString(value))} for enum {type.FullName}");
        }
        return (int)ReadInteger(value, "protoreflect.EnumNumber", int.MinValue, int.MaxValue);
    }

    /// <summary>A []byte as Go's encoding/json reads it: a base64 string, or an array of numbers 0–255.</summary>
    private static ByteString ReadBytes(ReadOnlySpan<byte> text, Range range)
    {
        var value = text[range];
        switch (value[0])
        {
            case (byte)'"':
                var source = Encoding.UTF8.GetBytes(GoJson.Unquote(value));
                var decoded = new byte[source.Length / 4 * 3 + 3];
                var written = GoJson.DecodeBase64(source, decoded, out var errorOffset);
                if (written < 0) throw GoJson.Base64Error(errorOffset);
                return ByteString.CopyFrom(decoded, 0, written);
            case (byte)'n':
                return ByteString.Empty;
            case (byte)'[':
                var elements = GoJson.Elements(text, range);
                var bytes = new byte[elements.Count];
                for (var i = 0; i < bytes.Length; i++)
                {
                    var element = text[elements[i]];
                    var kind = GoJson.KindName(element);
                    if (kind == "null") continue;
                    if (kind != "number") throw GoJson.TypeError(kind, "uint8");
                    var literal = Encoding.ASCII.GetString(element);
                    if (!byte.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
                        throw GoJson.TypeError("number " + literal, "uint8");
                }
                return ByteString.CopyFrom(bytes);
            default:
                throw GoJson.TypeError(GoJson.KindName(value), "[]uint8");
        }
    }
}
