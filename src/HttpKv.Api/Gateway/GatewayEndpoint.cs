using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server.Auth;
using HttpKv.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Api.Gateway;

/// <summary>Runs one unary /v3 call: reads a JSON body into the request message (whatever the Content-Type says,
/// as etcd's gateway does), calls the in-process service and writes the response, or etcd's error body
/// (<see cref="GatewayJson.ErrorBody"/>) with the gateway's HTTP status.</summary>
public static class GatewayEndpoint
{
    public static Task HandleAsync<TRequest, TResponse>(HttpContext context, Func<TRequest, CancellationToken, Task<TResponse>> call)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage =>
        HandleAsync(context, call, null);

    /// <summary>As the other, for a call that writes on behalf of its caller: it is given the caller the route admitted.</summary>
    public static Task HandleAsync<TRequest, TResponse>(HttpContext context, Func<TRequest, AuthInfo?, CancellationToken, Task<TResponse>> call)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage =>
        HandleAsync(context, null, call);

    private static async Task HandleAsync<TRequest, TResponse>(HttpContext context,
        Func<TRequest, CancellationToken, Task<TResponse>>? call, Func<TRequest, AuthInfo?, CancellationToken, Task<TResponse>>? callAs)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage
    {
        TRequest request;
        try
        {
            request = await ReadRequestAsync<TRequest>(context);
        }
        catch (Exception exception) when (BodyError(exception) is { } error)
        {
            await WriteErrorAsync(context, error);
            return;
        }

        CountClientRequest(context, stream: false);
        try
        {
            var caller = await context.AdmitAsync(request);
            var response = await (callAs is null ? call!(request, context.RequestAborted) : callAs(request, caller, context.RequestAborted));
            StartAnswer(context.Response);
            using var body = new PooledBufferWriter();
            GatewayJson.WriteResponse(response, body);
            context.Response.ContentLength = body.WrittenCount; // as etcd's gateway: one piece with its length, not chunks
            await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted);
        }
        catch (EtcdException exception)
        {
            await WriteErrorAsync(context, exception.Error);
        }
    }

    /// <summary>The status and headers of a successful answer or stream, as etcd's gateway sends them: JSON, and the
    /// gRPC response's content type relayed as <c>Grpc-Metadata-Content-Type</c> (its header metadata).</summary>
    /// <summary>etcd_server_client_requests_total for a gateway call, as etcd counts its gateway's calls: with the
    /// version a client sent as <c>Grpc-Metadata-Client-Api-Version</c> (the gateway's metadata header).</summary>
    public static void CountClientRequest(HttpContext context, bool stream)
    {
        var version = context.Request.Headers["Grpc-Metadata-Client-Api-Version"];
        Server.Metrics.ServerMetrics.CountClientRequest(stream, version.Count > 0 ? version[0] : null);
    }

    public static void StartAnswer(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers["Grpc-Metadata-Content-Type"] = "application/grpc";
    }

    /// <summary>A body etcd's gateway refuses: InvalidArgument with the decoder's own text, as the gateway answers it.</summary>
    public static EtcdError BadJson(GoJsonException exception) => new(exception.Message, StatusCode.InvalidArgument);

    /// <summary>The one answer of every /v3 route to a body it cannot take: etcd's error for JSON that does not decode,
    /// or for a body over the request size limit (<see cref="ReadBodyAsync"/>'s, or Kestrel's 413); null for any other
    /// failure.</summary>
    public static EtcdError? BodyError(Exception exception) => exception switch
    {
        GoJsonException json => BadJson(json),
        EtcdException { Error: var error } when error == EtcdErrors.RequestTooLarge => error,
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => EtcdErrors.RequestTooLarge,
        _ => null,
    };

    /// <summary>Reads a streaming route's whole JSON body with <paramref name="parse"/>; on a body it cannot take
    /// (<see cref="BodyError"/>) writes etcd's error and returns null (the route then ends).</summary>
    public static async Task<T?> ReadStreamRequestAsync<T>(HttpContext context, Func<ReadOnlyMemory<byte>, T> parse) where T : class
    {
        try
        {
            using var body = await ReadBodyAsync(context);
            return parse(body.Memory);
        }
        catch (Exception exception) when (BodyError(exception) is { } error)
        {
            await WriteErrorAsync(context, error);
            return null;
        }
    }

    private static async Task<TRequest> ReadRequestAsync<TRequest>(HttpContext context) where TRequest : IMessage<TRequest>, new()
    {
        using var body = await ReadBodyAsync(context);
        return GatewayJson.ReadRequest<TRequest>(body.Span);
    }

    /// <summary>The body of a /v3 route, at most gRPC's receive limit (--max-request-bytes plus the framing allowance,
    /// as Kestrel's own limit); a longer one is etcd's "request is too large".</summary>
    private static async Task<RequestBody> ReadBodyAsync(HttpContext context)
    {
        var limit = context.RequestServices.GetRequiredService<MemberHost>().Options.MaxRequestBytes + HttpKvApi.GrpcOverheadBytes;
        return await RequestBody.ReadAsync(context, limit) ?? throw EtcdErrors.RequestTooLarge.ToException();
    }

    /// <summary>Admits a stream (<see cref="CallerCredentials.AdmitStreamAsync"/>: learner check, then the permission for
    /// <paramref name="request"/> when it is the stream's one request); a refusal is written by
    /// <paramref name="writeError"/>, etcd's gateway error body unless told otherwise, as etcd's gateway relays its gRPC
    /// refusal. True when admitted.</summary>
    public static async Task<bool> AdmittedStreamAsync(HttpContext context, IMessage? request, Func<HttpContext, EtcdError, Task>? writeError = null)
    {
        try
        {
            await context.AdmitStreamAsync(request);
            return true;
        }
        catch (EtcdException refused)
        {
            await (writeError ?? WriteErrorAsync)(context, refused.Error);
            return false;
        }
    }

    /// <summary>A stream that asks for a leader (<see cref="RequireLeader"/>) on a member that knows none: refused at
    /// once with etcd's stream error, as etcd's stream interceptor refuses it (true: the error is written).</summary>
    public static async Task<bool> RefusedWithoutLeaderAsync(HttpContext context, Member member, bool leaderAsked)
    {
        if (!leaderAsked || member.Log.Leader != 0) return false;
        await WriteStreamErrorAsync(context, EtcdErrors.NoLeader);
        return true;
    }

    /// <summary>Ends a gateway stream with etcd's error object; before the first line it also sets the HTTP status
    /// from the error, as grpc-gateway does when nothing was written yet.</summary>
    public static async Task WriteStreamErrorAsync(HttpContext context, EtcdError error)
    {
        if (!context.Response.HasStarted) context.Response.StatusCode = EtcdErrorMapping.HttpStatus(error);
        await context.Response.WriteAsync(GatewayJson.StreamErrorBody(error), context.RequestAborted);
    }

    /// <summary>Writes one <c>{"result":…}</c> line of a gateway stream, in one piece (one HTTP/1.1 chunk), and flushes it.</summary>
    public static async Task WriteResultLineAsync(HttpContext context, IMessage message, CancellationToken cancellationToken)
    {
        using var line = new PooledBufferWriter();
        GatewayJson.WriteResultLine(message, line);
        await context.Response.Body.WriteAsync(line.WrittenMemory, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    public static async Task WriteErrorAsync(HttpContext context, EtcdError error)
    {
        context.Response.StatusCode = EtcdErrorMapping.HttpStatus(error);
        context.Response.ContentType = "application/json";
        var body = System.Text.Encoding.UTF8.GetBytes(GatewayJson.ErrorBody(error));
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }
}
