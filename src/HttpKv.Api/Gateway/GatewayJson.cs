using System.Buffers;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace HttpKv.Api.Gateway;

/// <summary>The JSON of etcd's grpc-gateway: proto field names, 64-bit integers as strings, bytes as base64,
/// enums by name, zero values omitted. Input accepts proto or lowerCamel names and ignores unknown fields.</summary>
public static class GatewayJson
{
    public static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    /// <summary>One line of a gateway stream: <c>{"result": message}</c> and a newline, as grpc-gateway frames them.</summary>
    public static string ResultLine(IMessage message) => "{\"result\":" + Formatter.Format(message) + "}\n";

    /// <summary>Writes <paramref name="message"/> as the gateway's JSON, UTF-8, to <paramref name="output"/>.</summary>
    public static void WriteResponse(IMessage message, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (GatewayJsonWriter.TryWrite(message, output)) return; // the KV answers: no intermediate string
        System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, Formatter.Format(message).AsSpan(), output);
    }

    /// <summary>Strict: unknown fields are removed before parsing (<see cref="ReadRequest"/>), so an unknown enum
    /// name is still an error, as in etcd's gateway (Google.Protobuf's IgnoreUnknownFields would drop it silently).</summary>
    public static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    /// <summary>Reads a request body as etcd's gateway does (Go's json.Decoder): the first JSON value only, anything
    /// after it ignored; <c>null</c> or an empty body is the empty message; unknown fields are ignored.
    /// Throws JsonException, InvalidProtocolBufferException or InvalidJsonException for malformed input.</summary>
    public static TRequest ReadRequest<TRequest>(ReadOnlySpan<byte> body) where TRequest : IMessage<TRequest>, new()
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty) return new TRequest();
        // JSON is UTF-8; refusing other bytes here keeps them from failing deep inside a transcoder as a 500.
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new FormatException("the request body is not valid UTF-8");
        if (GatewayJsonReader.TryRead(body, out TRequest read)) return read; // one pass for the usual put and range bodies
        return ReadGeneral<TRequest>(body);
    }

    /// <summary>Any body of valid UTF-8 (see <see cref="ReadRequest{TRequest}"/>): unknown fields dropped through a
    /// JsonDocument, then Google.Protobuf's parser.</summary>
    internal static TRequest ReadGeneral<TRequest>(ReadOnlySpan<byte> body) where TRequest : IMessage<TRequest>, new()
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind == JsonValueKind.Null) return new TRequest();
        var known = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(known))
        {
            WriteKnownFields(document.RootElement, new TRequest().Descriptor, writer);
        }
        return Parser.Parse<TRequest>(System.Text.Encoding.UTF8.GetString(known.WrittenSpan));
    }

    private static bool Is64Bit(FieldType type) =>
        type is FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64;

    private static bool IsIntegerLiteral(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number) return false;
        var text = value.GetRawText().AsSpan();
        if (text.StartsWith("-")) text = text[1..];
        return !text.IsEmpty && !text.ContainsAnyExceptInRange('0', '9');
    }

    private static void WriteKnownFields(JsonElement element, MessageDescriptor descriptor, Utf8JsonWriter writer)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            element.WriteTo(writer); // not an object: the parser reports it
            return;
        }
        writer.WriteStartObject();
        foreach (var property in element.EnumerateObject())
        {
            var field = descriptor.FindFieldByName(property.Name) ??
                descriptor.Fields.InDeclarationOrder().FirstOrDefault(candidate => candidate.JsonName == property.Name);
            if (field is null) continue;
            writer.WritePropertyName(property.Name);
            if (field.FieldType != FieldType.Message && !field.IsRepeated && Is64Bit(field.FieldType) && IsIntegerLiteral(property.Value))
            {
                // Google.Protobuf reads a JSON number through a double, which loses 64-bit values above 2^53 (lease
                // IDs are such); Go's gateway reads them exactly. As a string the parser reads them exactly too.
                writer.WriteStringValue(property.Value.GetRawText());
            }
            else if (field.FieldType != FieldType.Message)
            {
                property.Value.WriteTo(writer);
            }
            else if (field.IsRepeated && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray();
                foreach (var item in property.Value.EnumerateArray()) WriteKnownFields(item, field.MessageType, writer);
                writer.WriteEndArray();
            }
            else
            {
                WriteKnownFields(property.Value, field.MessageType, writer);
            }
        }
        writer.WriteEndObject();
    }
}
