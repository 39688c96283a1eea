using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HttpKv.Connections;

/// <summary>One of the two virtual endpoints that share a real TCP address: Kestrel listens on each with a
/// single protocol, and <see cref="DemuxListenerFactory"/> hands every accepted socket to the right one.</summary>
public sealed class DemuxEndPoint(IPEndPoint address, HttpProtocols protocol) : EndPoint
{
    public IPEndPoint Address { get; } = address;
    public HttpProtocols Protocol { get; } = protocol;

    public override string ToString() => $"{Address} ({Protocol})";
}
