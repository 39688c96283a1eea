using Etcdserverpb;
using HttpKv.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the KV service. Every route is a POST with a JSON body.</summary>
public static class KvGatewayEndpoints
{
    public static RouteGroupBuilder MapKvGateway(this RouteGroupBuilder group)
    {
        var kv = group.MapGroup("/kv").WithTags("KV");
        kv.MapPost("/range", (HttpContext context, IKvService service) =>
                GatewayEndpoint.HandleAsync<RangeRequest, RangeResponse>(context, service.RangeAsync))
            .WithGatewayContract<RangeRequest, RangeResponse>("Range", "Gets the keys in the range from the key-value store.");
        kv.MapPost("/put", (HttpContext context, IKvService service) =>
                GatewayEndpoint.HandleAsync<PutRequest, PutResponse>(context, service.PutAsync))
            .WithGatewayContract<PutRequest, PutResponse>("Put", "Puts the given key into the key-value store; a put increments the revision and generates one event.");
        kv.MapPost("/deleterange", (HttpContext context, IKvService service) =>
                GatewayEndpoint.HandleAsync<DeleteRangeRequest, DeleteRangeResponse>(context, service.DeleteRangeAsync))
            .WithGatewayContract<DeleteRangeRequest, DeleteRangeResponse>("DeleteRange", "Deletes the given range from the key-value store.");
        kv.MapPost("/txn", (HttpContext context, IKvService service) =>
                GatewayEndpoint.HandleAsync<TxnRequest, TxnResponse>(context, service.TxnAsync))
            .WithGatewayContract<TxnRequest, TxnResponse>("Txn", "Processes multiple requests in a single transaction, as one revision.");
        kv.MapPost("/compaction", (HttpContext context, IKvService service) =>
                GatewayEndpoint.HandleAsync<CompactionRequest, CompactionResponse>(context, service.CompactAsync))
            .WithGatewayContract<CompactionRequest, CompactionResponse>("Compact", "Compacts the event history up to the given revision.");
        return group;
    }
}
