using System.Buffers;
using System.Buffers.Text;
using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace HttpKv.Api.Gateway;

/// <summary>
/// Any gateway message as etcd 3.5's gateway writes it (grpc-gateway v1's JSONPb with OrigName, i.e. golang/protobuf's
/// jsonpb): compact, fields in declaration order with a oneof at the place of its first field, proto field names,
/// fields without a value left out (a oneof's chosen field and a set message always written), 64-bit integers as
/// quoted decimals, 32-bit ones as numbers, bytes as padded base64, enums by name (a number the enum does not name
/// as the number), strings escaped as Go's json.Marshal escapes them.
/// </summary>
/// <remarks>etcd's messages have no maps, floats, groups or well-known types; a message with one is refused
/// (<see cref="NotSupportedException"/>) rather than written some other way, and a test walks every gateway type.</remarks>
public static class ProtoJsonWriter
{
    private sealed record Field(FieldDescriptor Descriptor, byte[] Name, OneofDescriptor? Oneof);

    private static readonly ConcurrentDictionary<MessageDescriptor, Field[]> Plans = new();

    /// <summary>Writes <paramref name="message"/> to <paramref name="output"/> as UTF-8.</summary>
    public static void Write(IMessage message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(output);
        if (GatewayJsonWriter.TryWrite(message, output)) return; // the KV answers, without reflection
        WriteMessage(message, output);
    }

    /// <summary><paramref name="message"/> as a string (tests, small answers).</summary>
    public static string Format(IMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(message, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The reflection path for any message (<see cref="GatewayJsonWriter"/>'s test compares against it).</summary>
    internal static void WriteMessage(IMessage message, IBufferWriter<byte> output)
    {
        Raw(output, "{"u8);
        var first = true;
        foreach (var field in Plans.GetOrAdd(message.Descriptor, Plan))
        {
            var descriptor = field.Descriptor;
            object? value;
            if (field.Oneof is { } oneof)
            {
                descriptor = oneof.Accessor.GetCaseFieldDescriptor(message);
                if (descriptor is null) continue;
                value = descriptor.Accessor.GetValue(message); // chosen: written even when it is the default
            }
            else
            {
                value = descriptor.Accessor.GetValue(message);
                if (!HasValue(descriptor, value)) continue;
            }
            if (!first) Raw(output, ","u8);
            first = false;
            Raw(output, field.Oneof is null ? field.Name : NameOf(descriptor));
            if (descriptor.IsRepeated)
            {
                Raw(output, "["u8);
                var index = 0;
                foreach (var item in (IList)value!)
                {
                    if (index++ > 0) Raw(output, ","u8);
                    WriteValue(descriptor, item, output);
                }
                Raw(output, "]"u8);
            }
            else
            {
                WriteValue(descriptor, value, output);
            }
        }
        Raw(output, "}"u8);
    }

    /// <summary>The fields in declaration order; of a oneof only its first field, standing for the whole oneof.</summary>
    private static Field[] Plan(MessageDescriptor descriptor)
    {
        if (descriptor.File.Package == "google.protobuf")
            throw new NotSupportedException($"{descriptor.FullName}: well-known types are not written by the gateway writer");
        var fields = new List<Field>();
        var seen = new HashSet<OneofDescriptor>();
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (GatewayJson.UnsupportedKind(field) is { } unsupported) throw new NotSupportedException(unsupported);
            var oneof = field.ContainingOneof;
            if (oneof is not null && !seen.Add(oneof)) continue;
            fields.Add(new Field(field, NameOf(field), oneof));
        }
        return [.. fields];
    }

    private static byte[] NameOf(FieldDescriptor field) => Encoding.UTF8.GetBytes("\"" + field.Name + "\":");

    private static bool HasValue(FieldDescriptor field, object? value)
    {
        if (field.IsRepeated) return ((IList)value!).Count > 0;
        return field.FieldType switch
        {
            FieldType.Message => value is not null,
            FieldType.String => ((string)value!).Length > 0,
            FieldType.Bytes => !((ByteString)value!).IsEmpty,
            FieldType.Bool => (bool)value!,
            FieldType.Enum => Convert.ToInt32(value, CultureInfo.InvariantCulture) != 0,
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => (long)value! != 0,
            FieldType.UInt64 or FieldType.Fixed64 => (ulong)value! != 0,
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (int)value! != 0,
            FieldType.UInt32 or FieldType.Fixed32 => (uint)value! != 0,
            _ => throw new NotSupportedException(field.FieldType.ToString()),
        };
    }

    private static void WriteValue(FieldDescriptor field, object? value, IBufferWriter<byte> output)
    {
        switch (field.FieldType)
        {
            case FieldType.Message:
                WriteMessage((IMessage)value!, output);
                break;
            case FieldType.String:
                GoJson.WriteString(output, (string)value!);
                break;
            case FieldType.Bytes:
                WriteBase64(output, ((ByteString)value!).Span);
                break;
            case FieldType.Bool:
                Raw(output, (bool)value! ? "true"u8 : "false"u8);
                break;
            case FieldType.Enum:
                var number = Convert.ToInt32(value, CultureInfo.InvariantCulture);
                if (field.EnumType.FindValueByNumber(number) is { } named)
                {
                    GoJson.WriteString(output, named.Name);
                }
                else
                {
                    Number(output, number, quoted: false);
                }
                break;
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                Number(output, (long)value!, quoted: true);
                break;
            case FieldType.UInt64 or FieldType.Fixed64:
                Number(output, (ulong)value!, quoted: true);
                break;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                Number(output, (int)value!, quoted: false);
                break;
            case FieldType.UInt32 or FieldType.Fixed32:
                Number(output, (uint)value!, quoted: false);
                break;
            default:
                throw new NotSupportedException(field.FieldType.ToString());
        }
    }

    /// <summary>An integer as a decimal; quoted for the 64-bit types, as jsonpb writes them.</summary>
    internal static void Number<T>(IBufferWriter<byte> output, T value, bool quoted) where T : struct, IUtf8SpanFormattable
    {
        var span = output.GetSpan(24);
        var offset = quoted ? 1 : 0;
        value.TryFormat(span[offset..], out var written, default, CultureInfo.InvariantCulture);
        if (quoted)
        {
            span[0] = (byte)'"';
            span[written + 1] = (byte)'"';
        }
        output.Advance(written + 2 * offset);
    }

    /// <summary>Bytes as Go's json.Marshal writes a []byte: standard base64 with padding, quoted.</summary>
    internal static void WriteBase64(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        var span = output.GetSpan(Base64.GetMaxEncodedToUtf8Length(value.Length) + 2);
        span[0] = (byte)'"';
        Base64.EncodeToUtf8(value, span[1..], out _, out var written);
        span[written + 1] = (byte)'"';
        output.Advance(written + 2);
    }

    internal static void Raw(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }
}
