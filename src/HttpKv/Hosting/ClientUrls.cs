using System.Net;
using System.Net.Sockets;

namespace HttpKv.Hosting;

/// <summary>Turns etcd's <c>--listen-client-urls</c> and <c>--listen-peer-urls</c> into the addresses to bind.</summary>
public static class ClientUrls
{
    public static IPEndPoint ToEndPoint(string url, string kind = "client")
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port < 0 || uri.IsDefaultPort && !url.Contains(":" + uri.Port))
            throw new ArgumentException($"invalid listen {kind} URL {url}: expected scheme://host:port");
        if (uri.Scheme is not ("http" or "https" or "unix" or "unixs"))
            throw new ArgumentException($"invalid listen {kind} URL {url}: URL scheme must be http, https, unix or unixs");
        if (uri.Scheme is not ("http" or "https"))
            throw new NotSupportedException($"listen {kind} URL {url}: unix sockets are not served; use http:// or https://");
        return new IPEndPoint(Resolve(uri.Host), uri.Port);
    }

    /// <summary>An https URL: served with TLS, where ALPN picks HTTP/2 (gRPC) or HTTP/1.1.</summary>
    public static bool IsTls(string url) => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static IPAddress Resolve(string host)
    {
        if (host == "localhost") return IPAddress.Loopback;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address)) return address;
        return Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new ArgumentException($"cannot resolve listen host {host}");
    }
}
