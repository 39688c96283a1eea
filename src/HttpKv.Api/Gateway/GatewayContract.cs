using Google.Protobuf;
using Google.Protobuf.Reflection;
using HttpKv.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>Endpoint metadata naming the protobuf messages a gateway route reads and writes, so the OpenAPI
/// document can describe the gateway JSON from the same descriptors the wire uses.</summary>
public sealed record GatewayContract(MessageDescriptor Request, MessageDescriptor Response, bool Streaming = false);

public static class GatewayContractExtensions
{
    /// <summary>Maps one unary gateway route: POST <paramref name="pattern"/> reads <typeparamref name="TRequest"/> as JSON,
    /// calls <paramref name="call"/> on the in-process <typeparamref name="TService"/> and writes <typeparamref name="TResponse"/>.</summary>
    public static RouteHandlerBuilder MapUnary<TService, TRequest, TResponse>(this RouteGroupBuilder group, string pattern,
        Func<TService, Func<TRequest, CancellationToken, Task<TResponse>>> call, string name, string summary)
        where TService : notnull
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>, new() =>
        group.MapPost(pattern, (HttpContext context, TService service) => GatewayEndpoint.HandleAsync(context, call(service)))
            .WithGatewayContract<TRequest, TResponse>(name, summary);

    /// <summary>As the other <c>MapUnary</c>, for a call that writes on behalf of its caller: it is given the caller
    /// the route admitted (see <see cref="HttpKv.Server.IKvService"/>).</summary>
    public static RouteHandlerBuilder MapUnary<TService, TRequest, TResponse>(this RouteGroupBuilder group, string pattern,
        Func<TService, Func<TRequest, AuthInfo?, CancellationToken, Task<TResponse>>> call, string name, string summary)
        where TService : notnull
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>, new() =>
        group.MapPost(pattern, (HttpContext context, TService service) => GatewayEndpoint.HandleAsync(context, call(service)))
            .WithGatewayContract<TRequest, TResponse>(name, summary);

    public static RouteHandlerBuilder WithGatewayContract<TRequest, TResponse>(this RouteHandlerBuilder builder, string name, string summary)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>, new() =>
        builder
            .WithMetadata(new GatewayContract(new TRequest().Descriptor, new TResponse().Descriptor))
            .WithSummary(summary)
            .WithDescription($"etcd's `{name}` call as JSON: proto field names, 64-bit integers as strings, bytes as base64.");
}
