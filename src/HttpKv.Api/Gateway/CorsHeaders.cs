using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Api.Gateway;

/// <summary>
/// etcd's CORS on the client port's HTTP routes (its access controller, in front of the gateway and every other
/// HTTP handler): with <c>--cors=*</c> (the default) every answer says <c>Access-Control-Allow-Origin: *</c>; with a
/// list, an answer to a request whose <c>Origin</c> is listed names that origin, and any other gets no CORS headers,
/// so a browser keeps a page from another origin from reading it. An <c>OPTIONS</c> request (a browser's
/// preflight) is answered 200 at once, with the headers when allowed. gRPC calls are not HTTP routes and pass by.
/// </summary>
internal static class CorsHeaders
{
    public const string AllowMethods = "POST, GET, OPTIONS, PUT, DELETE";
    public const string AllowHeaders = "accept, content-type, authorization";

    public static void Use(WebApplication app)
    {
        if (!CorsOrigins.TryParse(app.Services.GetRequiredService<MemberHost>().Options.Cors, out var origins))
            throw new InvalidOperationException("--cors takes * or a comma-separated list of origin URLs");
        app.Use((context, next) =>
        {
            var request = context.Request;
            if (Grpc.GrpcCallBinding.IsGrpc(request.ContentType)) return next(context);
            if (origins.AllowsAll) Add(context.Response, "*");
            else if (request.Headers.Origin is [{ } origin] && origins.Allows(origin)) Add(context.Response, origin);
            if (!HttpMethods.IsOptions(request.Method)) return next(context);
            context.Response.StatusCode = StatusCodes.Status200OK;
            return Task.CompletedTask;
        });
    }

    private static void Add(HttpResponse response, string origin)
    {
        response.Headers.AccessControlAllowMethods = AllowMethods;
        response.Headers.AccessControlAllowOrigin = origin;
        response.Headers.AccessControlAllowHeaders = AllowHeaders;
    }
}
