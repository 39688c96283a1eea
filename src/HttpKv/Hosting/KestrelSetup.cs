using HttpKv.Api;
using HttpKv.Connections;
using HttpKv.Server;
using HttpKv.Server.Transport;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HttpKv.Hosting;

/// <summary>Kestrel's endpoints and limits for a member. Every client URL serves HTTP/1.1 and HTTP/2 (gRPC) on one
/// port: an http:// URL through <see cref="DemuxListenerFactory"/>, an https:// URL through TLS with ALPN offering
/// h2 and http/1.1. Peer URLs serve HTTP/2 only, with TLS when https.</summary>
public static class KestrelSetup
{
    /// <summary>etcd clients multiplex many calls on one connection; Kestrel's default of 100 streams would throttle them.</summary>
    private const int MaxStreamsPerConnection = 1000;

    public static void Configure(KestrelServerOptions kestrel, MemberOptions options, TransportSecurity security)
    {
        var logger = kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("HttpKv.Server.Transport");
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes + HttpKvApi.GrpcOverheadBytes;
        kestrel.Limits.Http2.MaxStreamsPerConnection = MaxStreamsPerConnection;
        foreach (var url in MemberOptions.SplitUrls(options.ListenClientUrls))
        {
            var address = ClientUrls.ToEndPoint(url);
            if (ClientUrls.IsTls(url))
            {
                kestrel.Listen(address, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(https => security.Client.ConfigureHttps(https, logger));
                    AuthorityNormalizer.Use(listen);
                });
                continue;
            }
            kestrel.Listen(new DemuxEndPoint(address, HttpProtocols.Http1), listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Listen(new DemuxEndPoint(address, HttpProtocols.Http2), listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                AuthorityNormalizer.Use(listen);
            });
        }
        // etcd's --listen-metrics-urls: HTTP/1.1 for scrapers and probes (plus h2 by ALPN on https, with the client
        // URLs' certificate); only /metrics and the probes answer there (MetricsEndpoints' guard).
        foreach (var url in MemberOptions.SplitUrls(options.ListenMetricsUrls))
        {
            kestrel.Listen(ClientUrls.ToEndPoint(url, "metrics"), listen =>
            {
                listen.Protocols = ClientUrls.IsTls(url) ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                if (ClientUrls.IsTls(url)) listen.UseHttps(https => security.Client.ConfigureHttps(https, logger));
            });
        }
        // Members talk gRPC (HTTP/2: prior knowledge on http, ALPN h2 on https) to each other on the peer URLs.
        foreach (var url in MemberOptions.SplitUrls(options.ListenPeerUrls))
        {
            kestrel.Listen(ClientUrls.ToEndPoint(url, "peer"), listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (ClientUrls.IsTls(url)) listen.UseHttps(https => security.Peer.ConfigureHttps(https, logger));
            });
        }
    }
}
