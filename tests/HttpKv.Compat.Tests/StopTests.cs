using Etcdserverpb;
using Google.Protobuf;
using Grpc.Net.Client;

namespace HttpKv.Compat.Tests;

/// <summary>A member asked to stop (SIGTERM) stops promptly even with clients attached, as etcd does.</summary>
[Collection("cluster")]
public sealed class StopTests
{
    public static TheoryData<string> Kinds() => new() { "etcd", "httpkv" };

    [Theory, MemberData(nameof(Kinds))]
    public async Task A_member_with_a_watch_and_a_keep_alive_stream_open_stops_well_before_the_30_s_shutdown_timeout(string kind)
    {
        await using var server = ServerProcess.Create(kind);
        await server.StartAsync();
        using var channel = GrpcChannel.ForAddress(server.Url);

        using var watch = new Watch.WatchClient(channel).Watch();
        await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("stop/key") } });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.True(watch.ResponseStream.Current.Created);

        var lease = new Lease.LeaseClient(channel);
        var granted = await lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 });
        using var keepAlive = lease.LeaseKeepAlive();
        await keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = granted.ID });
        Assert.True(await keepAlive.ResponseStream.MoveNext(CancellationToken.None));

        await server.TerminateAsync();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(15)),
            $"still running {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s after SIGTERM with streams open; its output:\n{server.Output}");
    }
}
