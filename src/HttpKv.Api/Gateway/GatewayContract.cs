using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HttpKv.Api.Gateway;

/// <summary>Endpoint metadata naming the protobuf messages a gateway route reads and writes, so the OpenAPI
/// document can describe the gateway JSON from the same descriptors the wire uses.</summary>
public sealed record GatewayContract(MessageDescriptor Request, MessageDescriptor Response, bool Streaming = false);

public static class GatewayContractExtensions
{
    public static RouteHandlerBuilder WithGatewayContract<TRequest, TResponse>(this RouteHandlerBuilder builder, string name, string summary)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>, new() =>
        builder
            .WithMetadata(new GatewayContract(new TRequest().Descriptor, new TResponse().Descriptor))
            .WithSummary(summary)
            .WithDescription($"etcd's `{name}` call as JSON: proto field names, 64-bit integers as strings, bytes as base64.");
}
