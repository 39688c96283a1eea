using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;

namespace HttpKv.Bench;

/// <summary>The N connections of a run (--conns), spread over the endpoints round robin: a GrpcChannel with its own
/// SocketsHttpHandler that keeps to one HTTP/2 connection (as etcd's benchmark --conns), or, for --transport http, an
/// HttpClient whose pool holds as many HTTP/1.1 keep-alive connections as it has clients. With --user the token from
/// Authenticate is sent as gRPC metadata "token" and as the HTTP Authorization header.</summary>
public sealed class Connections : IDisposable
{
    private readonly BenchOptions options;
    private readonly List<GrpcChannel> channels = [];
    private readonly List<HttpClient> httpClients = [];

    private Connections(BenchOptions options) => this.options = options;

    /// <summary>Metadata sent with every gRPC call (the auth token), or null.</summary>
    public Metadata? Headers { get; private set; }
    public string? Token { get; private set; }

    public GrpcChannel Channel(int client) => channels[client % channels.Count];
    public HttpClient Http(int client) => httpClients[client % httpClients.Count];
    public string Endpoint(int client) => options.Endpoints[client % options.Conns % options.Endpoints.Count];

    public static async Task<Connections> OpenAsync(BenchOptions options)
    {
        var connections = new Connections(options);
        var clientsPerConn = (options.Clients + options.Conns - 1) / options.Conns;
        for (var i = 0; i < options.Conns; i++)
        {
            var endpoint = options.Endpoints[i % options.Endpoints.Count];
            connections.channels.Add(GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
            {
                HttpHandler = connections.Handler(maxConnections: int.MaxValue),
                MaxReceiveMessageSize = 64 * 1024 * 1024,
                MaxSendMessageSize = 64 * 1024 * 1024,
            }));
            if (options.Transport == "http")
                connections.httpClients.Add(new HttpClient(connections.Handler(maxConnections: clientsPerConn))
                {
                    BaseAddress = new Uri(endpoint),
                    DefaultRequestVersion = HttpVersion.Version11,
                    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
                    Timeout = TimeSpan.FromMinutes(2),
                });
        }
        if (options.User is not null) await connections.AuthenticateAsync(options.User);
        return connections;
    }

    private async Task AuthenticateAsync(string user)
    {
        var colon = user.IndexOf(':');
        var auth = new Auth.AuthClient(channels[0]);
        var response = await auth.AuthenticateAsync(new AuthenticateRequest { Name = user[..colon], Password = user[(colon + 1)..] },
            deadline: DateTime.UtcNow.AddSeconds(30));
        Token = response.Token;
        Headers = new Metadata { { "token", Token } };
        foreach (var http in httpClients) http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", Token);
    }

    private SocketsHttpHandler Handler(int maxConnections)
    {
        var handler = new SocketsHttpHandler
        {
            // One channel = one HTTP/2 connection; more concurrency comes from more --conns.
            EnableMultipleHttp2Connections = false,
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        if (options.CaCert is not null || options.Cert is not null) handler.SslOptions = ClientSsl();
        return handler;
    }

    private SslClientAuthenticationOptions ClientSsl()
    {
        var ssl = new SslClientAuthenticationOptions();
        if (options.Cert is not null && options.Key is not null)
        {
            // Exported and re-imported so the private key is usable by SslStream on every platform.
            using var pem = X509Certificate2.CreateFromPemFile(options.Cert, options.Key);
            ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        if (options.CaCert is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(options.CaCert);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                var trusted = chain.Build(new X509Certificate2(certificate));
                return trusted && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
            };
        }
        return ssl;
    }

    public void Dispose()
    {
        foreach (var channel in channels) channel.Dispose();
        foreach (var http in httpClients) http.Dispose();
    }
}
