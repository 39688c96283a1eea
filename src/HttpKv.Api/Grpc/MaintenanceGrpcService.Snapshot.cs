using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server.Maintenance;
using Microsoft.Extensions.DependencyInjection;

namespace HttpKv.Api.Grpc;

/// <summary>Maintenance.Snapshot over gRPC (its own file and service, so that the rest of the Maintenance service
/// evolves apart from it).</summary>
public sealed partial class MaintenanceGrpcService
{
    public override async Task Snapshot(SnapshotRequest request, IServerStreamWriter<SnapshotResponse> responseStream, ServerCallContext context)
    {
        var snapshots = context.GetHttpContext().RequestServices.GetRequiredService<ISnapshotService>();
        await foreach (var response in snapshots.SnapshotAsync(request, context.CancellationToken))
            await responseStream.WriteAsync(response, context.CancellationToken);
    }
}
