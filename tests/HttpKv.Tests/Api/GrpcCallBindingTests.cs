using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace HttpKv.Tests.Api;

/// <summary>gRPC calls found by exact path before routing (GrpcCallBinding) answer as routing would: a known method
/// runs with its checks and etcd's error status, an unknown one of a known service is Unimplemented.</summary>
public sealed class GrpcCallBindingTests : MemberTest
{
    [Fact]
    public async Task A_client_call_runs_and_fails_with_etcds_status()
    {
        using var channel = Factory.CreateGrpcChannel();
        var kv = new KV.KVClient(channel);
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("bound"), Value = ByteString.CopyFromUtf8("v") });
        Assert.Equal("v", (await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("bound") })).Kvs.Single().Value.ToStringUtf8());

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await kv.RangeAsync(new RangeRequest()));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal("etcdserver: key is not provided", refused.Status.Detail);
    }

    [Fact]
    public async Task An_unknown_method_of_a_client_service_is_unimplemented()
    {
        using var channel = Factory.CreateGrpcChannel();
        var unknown = new Method<RangeRequest, RangeResponse>(MethodType.Unary, "etcdserverpb.KV", "NoSuchMethod",
            Marshallers.Create((RangeRequest request) => request.ToByteArray(), RangeRequest.Parser.ParseFrom),
            Marshallers.Create((RangeResponse response) => response.ToByteArray(), RangeResponse.Parser.ParseFrom));
        var call = channel.CreateCallInvoker().AsyncUnaryCall(unknown, null, new CallOptions(), new RangeRequest { Key = ByteString.CopyFromUtf8("k") });
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await call);
        Assert.Equal(StatusCode.Unimplemented, refused.StatusCode);
    }
}
