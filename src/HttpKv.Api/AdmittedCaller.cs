using Grpc.Core;
using HttpKv.Server.Auth;
using Microsoft.AspNetCore.Http;

namespace HttpKv.Api;

/// <summary>The caller a gRPC call was admitted as, kept on its HTTP request between <c>ClientCallInterceptor</c>,
/// which admits it, and the service binding, which passes it on to the core as a parameter (the services that write
/// keys take the caller explicitly: <see cref="HttpKv.Server.IKvService"/>). The JSON doors admit and call in one
/// method and pass it directly.</summary>
public static class AdmittedCaller
{
    private sealed class Feature(AuthInfo caller)
    {
        public AuthInfo Caller { get; } = caller;
    }

    /// <summary>Records <paramref name="caller"/> for this request; nothing for null (auth off). A request starts with
    /// none recorded: Kestrel clears the features it did not define when it reuses a stream for the next request, and
    /// setting one on every call would also throw away the context's cached feature lookups.</summary>
    public static void Set(HttpContext context, AuthInfo? caller)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (caller is not null) context.Features.Set(new Feature(caller));
    }

    /// <summary>The caller recorded for this call; null if none was (auth off, or a call the interceptor does not check).</summary>
    public static AuthInfo? Of(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.GetHttpContext().Features.Get<Feature>()?.Caller;
    }
}
