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
        kv.MapUnary<IKvService, RangeRequest, RangeResponse>("/range", service => service.RangeAsync,
            "Range", "Gets the keys in the range from the key-value store.");
        kv.MapUnary<IKvService, PutRequest, PutResponse>("/put", service => service.PutAsync,
            "Put", "Puts the given key into the key-value store; a put increments the revision and generates one event.");
        kv.MapUnary<IKvService, DeleteRangeRequest, DeleteRangeResponse>("/deleterange", service => service.DeleteRangeAsync,
            "DeleteRange", "Deletes the given range from the key-value store.");
        kv.MapUnary<IKvService, TxnRequest, TxnResponse>("/txn", service => service.TxnAsync,
            "Txn", "Processes multiple requests in a single transaction, as one revision.");
        kv.MapUnary<IKvService, CompactionRequest, CompactionResponse>("/compaction", service => service.CompactAsync,
            "Compact", "Compacts the event history up to the given revision.");
        return group;
    }
}
