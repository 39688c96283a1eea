using System.Buffers;
using System.Globalization;
using Google.Protobuf;
using HttpKv.Protocol;

namespace HttpKv.Api.Gateway;

/// <summary>The JSON of etcd's grpc-gateway: the bodies, stream lines and error objects etcd 3.5's gateway writes
/// (<see cref="ProtoJsonWriter"/>, <c>docs/gateway-json.md</c>), and request bodies read as it reads them.</summary>
public static class GatewayJson
{
    /// <summary>A field of a kind etcd's messages do not have (maps, floats, groups), which the gateway's writer and
    /// reader refuse rather than handle some other way than jsonpb would: its reason, or null for a field they handle.</summary>
    internal static string? UnsupportedKind(Google.Protobuf.Reflection.FieldDescriptor field) =>
        field.IsMap ? $"{field.FullName}: map fields are not handled by the gateway's JSON"
        : field.FieldType is Google.Protobuf.Reflection.FieldType.Float or Google.Protobuf.Reflection.FieldType.Double or Google.Protobuf.Reflection.FieldType.Group
            ? $"{field.FullName}: {field.FieldType} fields are not handled by the gateway's JSON"
            : null;

    /// <summary>Writes <paramref name="message"/> as the gateway's JSON, UTF-8, to <paramref name="output"/>.</summary>
    public static void WriteResponse(IMessage message, IBufferWriter<byte> output) => ProtoJsonWriter.Write(message, output);

    /// <summary>One line of a gateway stream: <c>{"result":message}</c> and a newline, as grpc-gateway frames them.</summary>
    public static void WriteResultLine(IMessage message, IBufferWriter<byte> output)
    {
        ProtoJsonWriter.Raw(output, "{\"result\":"u8);
        ProtoJsonWriter.Write(message, output);
        ProtoJsonWriter.Raw(output, "}\n"u8);
    }

    /// <summary>etcd 3.5's error body (grpc-gateway v1.16's <c>Error</c> message): <c>{"error":text,"code":grpcCode,"message":text}</c>.</summary>
    public static string ErrorBody(EtcdError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var text = GoJson.Quote(error.Message);
        return "{\"error\":" + text + ",\"code\":" + ((int)error.Code).ToString(CultureInfo.InvariantCulture) + ",\"message\":" + text + "}";
    }

    /// <summary>etcd 3.5's error object on a stream (grpc-gateway v1.16's <c>StreamError</c>), which ends the stream
    /// without a newline after it.</summary>
    public static string StreamErrorBody(EtcdError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var status = EtcdErrorMapping.HttpStatus(error);
        var phrase = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return "{\"error\":{\"grpc_code\":" + ((int)error.Code).ToString(CultureInfo.InvariantCulture) + ",\"http_code\":" +
            status.ToString(CultureInfo.InvariantCulture) + (error.Message.Length > 0 ? ",\"message\":" + GoJson.Quote(error.Message) : "") +
            (phrase.Length > 0 ? ",\"http_status\":" + GoJson.Quote(phrase) : "") + "}}";
    }

    /// <summary>Reads a request body as etcd's gateway does (Go's json.Decoder, then jsonpb): the first JSON value
    /// only, anything after it ignored; <c>null</c> or a body of white space is the empty message; unknown fields are
    /// ignored. Throws <see cref="GoJsonException"/>, with the text etcd's gateway gives, for anything it refuses.</summary>
    public static TRequest ReadRequest<TRequest>(ReadOnlySpan<byte> body) where TRequest : IMessage<TRequest>, new()
    {
        if (!GoJson.TryReadFirstValue(body, out var start, out var end)) return new TRequest();
        var value = body[start..end];
        if (GatewayJsonReader.TryRead(value, out TRequest read)) return read; // one pass for the usual put and range bodies
        return ProtoJsonReader.Read<TRequest>(value);
    }

    /// <summary>Every JSON value of a streaming route's body, as etcd's gateway decodes a bidi stream's requests until
    /// the end of the body: a malformed first one is refused (<see cref="GoJsonException"/>); at a malformed later one
    /// the gateway stops sending, so the ones before it stand.</summary>
    public static List<TRequest> ReadRequests<TRequest>(ReadOnlySpan<byte> body) where TRequest : IMessage<TRequest>, new()
    {
        var requests = new List<TRequest>();
        var offset = 0;
        try
        {
            while (GoJson.TryReadFirstValue(body[offset..], out var start, out var end))
            {
                requests.Add(ReadRequest<TRequest>(body.Slice(offset + start, end - start)));
                offset += end;
            }
        }
        catch (GoJsonException) when (requests.Count > 0)
        {
        }
        return requests;
    }
}
