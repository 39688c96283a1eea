using Google.Protobuf;

namespace HttpKv.Api.Gateway;

/// <summary>The JSON of etcd's grpc-gateway: proto field names, 64-bit integers as strings, bytes as base64,
/// enums by name, zero values omitted. Input accepts proto or lowerCamel names and ignores unknown fields.</summary>
public static class GatewayJson
{
    public static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));
    public static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
}
