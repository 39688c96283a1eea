using dotnet_etcd;

namespace HttpKv.Compat.Tests;

/// <summary>The dotnet-etcd client from NuGet, unchanged, against HttpKv over gRPC on the shared port.</summary>
public sealed class DotnetEtcdTests
{
    [Fact]
    public async Task Put_get_prefix_delete_and_txn()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();
        using var client = new EtcdClient(server.Url);

        await client.PutAsync("net/a", "1");
        await client.PutAsync("net/b", "2");
        Assert.Equal("1", await client.GetValAsync("net/a"));
        var prefix = await client.GetRangeValAsync("net/");
        Assert.Equal(new Dictionary<string, string> { ["net/a"] = "1", ["net/b"] = "2" }, prefix);

        var deleted = await client.DeleteAsync("net/a");
        Assert.Equal(1, deleted.Deleted);
        Assert.Equal("", await client.GetValAsync("net/a"));

        var txn = await client.TransactionAsync(new Etcdserverpb.TxnRequest
        {
            Compare = { new Etcdserverpb.Compare { Key = Google.Protobuf.ByteString.CopyFromUtf8("net/b"), Target = Etcdserverpb.Compare.Types.CompareTarget.Value, Result = Etcdserverpb.Compare.Types.CompareResult.Equal, Value = Google.Protobuf.ByteString.CopyFromUtf8("2") } },
            Success = { new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("net/b"), Value = Google.Protobuf.ByteString.CopyFromUtf8("3") } } },
        });
        Assert.True(txn.Succeeded);
        Assert.Equal("3", await client.GetValAsync("net/b"));
    }
}
