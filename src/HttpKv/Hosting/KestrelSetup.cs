using HttpKv.Api;
using HttpKv.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HttpKv.Hosting;

/// <summary>Kestrel's endpoints and limits for a member: every client URL serves HTTP/1.1 and HTTP/2 (gRPC)
/// on one port through <see cref="DemuxListenerFactory"/>.</summary>
public static class KestrelSetup
{
    /// <summary>etcd clients multiplex many calls on one connection; Kestrel's default of 100 streams would throttle them.</summary>
    private const int MaxStreamsPerConnection = 1000;

    public static void Configure(KestrelServerOptions kestrel, MemberOptions options)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes + HttpKvApi.GrpcOverheadBytes;
        kestrel.Limits.Http2.MaxStreamsPerConnection = MaxStreamsPerConnection;
        foreach (var url in MemberOptions.SplitUrls(options.ListenClientUrls))
        {
            var address = ClientUrls.ToEndPoint(url);
            kestrel.Listen(new DemuxEndPoint(address, HttpProtocols.Http1), listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.Listen(new DemuxEndPoint(address, HttpProtocols.Http2), listen => listen.Protocols = HttpProtocols.Http2);
        }
        // Members talk gRPC (HTTP/2 with prior knowledge) to each other on the peer URLs.
        foreach (var url in MemberOptions.SplitUrls(options.ListenPeerUrls))
        {
            kestrel.Listen(ClientUrls.ToEndPoint(url, "peer"), listen => listen.Protocols = HttpProtocols.Http2);
        }
    }
}
