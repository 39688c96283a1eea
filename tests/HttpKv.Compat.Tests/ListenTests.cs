namespace HttpKv.Compat.Tests;

/// <summary>A server started on a port another server already listens on is refused and exits, as etcd does, rather
/// than sharing the port (and its clients) with the first: on both the client URL (one plaintext port for HTTP/1.1 and
/// gRPC) and the peer URL.</summary>
public sealed class ListenTests
{
    [Theory]
    [InlineData("etcd", "client")]
    [InlineData("httpkv", "client")]
    [InlineData("etcd", "peer")]
    [InlineData("httpkv", "peer")]
    public async Task A_second_server_on_a_port_in_use_exits_and_the_first_serves_on(string kind, string port)
    {
        await using var first = ServerProcess.Create(kind);
        await first.StartAsync();
        string[] taken = port == "client"
            ? ["--listen-client-urls", first.Url, "--advertise-client-urls", first.Url]
            : ["--listen-peer-urls", first.PeerUrl];
        await using var second = ServerProcess.Create(kind, taken);

        await Assert.ThrowsAsync<InvalidOperationException>(second.StartAsync);

        Assert.True(await second.WaitForExitAsync(TimeSpan.FromSeconds(30)), second.Output);
        Assert.Contains("address already in use", second.Output);
        for (var i = 0; i < 3; i++) // new connections, which a shared port would have handed to either process
        {
            var put = await Tool.EtcdctlAtAsync(first.Url, "put", $"k{i}", "v");
            Assert.True(put.ExitCode == 0, put.ToString());
        }
    }
}
