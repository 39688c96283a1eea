using System.Collections.Frozen;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Api.Grpc;
using Microsoft.AspNetCore.Http;

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

    /// <summary>A client call's deadline header is taken off before Grpc.AspNetCore reads it (it would arm a timer
    /// per call; the client enforces its deadline by cancelling); a request the binding does not take keeps it.</summary>
    [Fact]
    public void A_client_calls_deadline_header_is_taken_off_and_another_requests_is_kept()
    {
        var put = new Endpoint(_ => Task.CompletedTask, EndpointMetadataCollection.Empty, "put");
        var endpoints = new Dictionary<string, Endpoint> { ["/etcdserverpb.KV/Put"] = put }.ToFrozenDictionary(StringComparer.Ordinal);
        var services = new GrpcCallBinding.ApplicationServices(Factory.Services);
        static HttpContext Call(string path)
        {
            var context = new DefaultHttpContext();
            context.Request.Method = "POST";
            context.Request.Path = path;
            context.Request.ContentType = "application/grpc";
            context.Request.Headers[GrpcCallBinding.DeadlineHeader] = "4999m";
            return context;
        }

        var client = Call("/etcdserverpb.KV/Put");
        Assert.True(GrpcCallBinding.Bind(client, endpoints, services));
        Assert.Same(put, client.GetEndpoint());
        Assert.False(client.Request.Headers.ContainsKey(GrpcCallBinding.DeadlineHeader));

        var peer = Call("/httpkv.peer.RaftPeer/HashKV");
        Assert.False(GrpcCallBinding.Bind(peer, endpoints, services));
        Assert.Equal("4999m", peer.Request.Headers[GrpcCallBinding.DeadlineHeader]);
    }
}
