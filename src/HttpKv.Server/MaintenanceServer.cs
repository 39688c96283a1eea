using Etcdserverpb;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Storage.Backend;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server;

/// <summary>etcd's Maintenance service as every interface (gRPC, the /v3 JSON routes) calls it.</summary>
public interface IMaintenanceService
{
    Task<StatusResponse> StatusAsync(StatusRequest request, CancellationToken cancellationToken);
    Task<MoveLeaderResponse> MoveLeaderAsync(MoveLeaderRequest request, CancellationToken cancellationToken);
    Task<HashKVResponse> HashKVAsync(HashKVRequest request, CancellationToken cancellationToken);
    Task<HashResponse> HashAsync(HashRequest request, CancellationToken cancellationToken);
    Task<AlarmResponse> AlarmAsync(AlarmRequest request, CancellationToken cancellationToken);
    Task<DefragmentResponse> DefragmentAsync(DefragmentRequest request, CancellationToken cancellationToken);
    Task<DowngradeResponse> DowngradeAsync(DowngradeRequest request, CancellationToken cancellationToken);

    /// <summary>Every member with its Status (asked on the peer port; this member's own directly), or why it did not answer.</summary>
    Task<IReadOnlyList<MemberStatus>> MemberStatusesAsync(CancellationToken cancellationToken);
}

/// <summary>A member and its Status, or the error that stood in its way (down, unreachable, too slow).</summary>
public sealed record MemberStatus(Etcdserverpb.Member Member, StatusResponse? Status, string? Error);

public sealed class MaintenanceServer(MemberHost host, ILogger<MaintenanceServer> logger) : IMaintenanceService
{
    public async Task<StatusResponse> StatusAsync(StatusRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Opened;
        var (revision, size, inUse) = member.Stores.Read(store => (store.CurrentRevision, store.Size, store.SizeInUse));
        var response = new StatusResponse
        {
            Header = member.Header(revision),
            Version = EtcdVersion.Server,
            DbSize = size,
            DbSizeInUse = inUse,
            Leader = member.Log.Leader,
            RaftIndex = member.Log.CommittedIndex,
            RaftTerm = member.Log.Term,
            RaftAppliedIndex = member.Log.AppliedIndex,
            IsLearner = member.Log.IsLearner,
        };
        // etcd lists each active alarm in its protobuf text form.
        response.Errors.AddRange(member.Alarms.Active.Select(alarm => $"memberID:{alarm.MemberID} alarm:{alarm.Alarm.ToString().ToUpperInvariant()} "));
        return response;
    }

    public async Task<MoveLeaderResponse> MoveLeaderAsync(MoveLeaderRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        if (!member.Log.IsLeader) throw EtcdErrors.NotLeader.ToException();
        var target = member.Log.Members.FirstOrDefault(existing => existing.ID == request.TargetID);
        if (target is null || target.IsLearner) throw EtcdErrors.BadLeaderTransferee.ToException();
        if (request.TargetID != member.Identity.MemberId) await member.Log.TransferLeadershipAsync(request.TargetID, cancellationToken);
        return new MoveLeaderResponse { Header = member.CurrentHeader() };
    }

    public async Task<HashKVResponse> HashKVAsync(HashKVRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var (hash, compacted, revision) = member.Stores.Read(store =>
        {
            var at = request.Revision > 0 ? request.Revision : store.CurrentRevision;
            return (store.HashKv(at, out var compactRevision), compactRevision, at);
        });
        Metrics.ServerMetrics.HashRevDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return new HashKVResponse { Header = member.CurrentHeader(), Hash = hash, CompactRevision = compacted, HashRevision = revision };
    }

    public async Task<HashResponse> HashAsync(HashRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var (hash, revision) = member.Stores.Read(store => (store.Hash(), store.CurrentRevision));
        Metrics.ServerMetrics.HashDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return new HashResponse { Header = member.Header(revision), Hash = hash };
    }

    /// <summary>Through the log, as etcd: every member keeps the same alarms, and a GET reads them in log order.</summary>
    public async Task<AlarmResponse> AlarmAsync(AlarmRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = await host.Ready;
        var response = (AlarmResponse)await member.Log.ProposeAsync(new LogRequest { Alarm = request }, cancellationToken);
        response.Header = member.Header(response.Header);
        return response;
    }

    /// <summary>Defragments this member's backend only (as etcd: <c>etcdctl defrag</c> asks each endpoint). Runs off
    /// the request thread; readers never wait and the writer waits only for the last catch-up round. A snapshot from
    /// the leader that would replace the store waits until it is done.</summary>
    public async Task<DefragmentResponse> DefragmentAsync(DefragmentRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        logger.LogInformation("Defragmenting the backend of member {MemberId:x16}", member.Identity.MemberId);
        DefragmentResult done;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Metrics.ServerMetrics.DefragInflight.Set(1);
        try
        {
            done = await Task.Run(() => member.Stores.Read(store => store.Defragment()), CancellationToken.None);
        }
        catch (InvalidOperationException exception)
        {
            logger.LogWarning("Defragmentation failed: {Reason}", exception.Message);
            throw new EtcdError(exception.Message, StatusCode.Unavailable).ToException();
        }
        finally
        {
            Metrics.ServerMetrics.DefragInflight.Set(0);
            Metrics.ServerMetrics.DefragDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        logger.LogInformation("Defragmented the backend: {Before} → {After} bytes in {Elapsed:F0} ms ({Replayed} changes replayed onto the copy, writes paused {Pause:F1} ms)",
            done.SizeBefore, done.SizeAfter, done.Elapsed.TotalMilliseconds, done.Replayed, done.WriterPause.TotalMilliseconds);
        return new DefragmentResponse(); // as every etcd version answers it: no header
    }

    public async Task<IReadOnlyList<MemberStatus>> MemberStatusesAsync(CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        return await Task.WhenAll(member.Log.Members.Select(async peer =>
        {
            try
            {
                var status = peer.ID == member.Identity.MemberId
                    ? await StatusAsync(new StatusRequest(), cancellationToken)
                    : await member.PeerStatusAsync(peer.ID, PeerStatusTimeout, cancellationToken);
                return new MemberStatus(peer, status, null);
            }
            catch (RpcException exception)
            {
                return new MemberStatus(peer, null, exception.Status.Detail);
            }
            catch (Exception exception) when (exception is InvalidOperationException or HttpRequestException)
            {
                return new MemberStatus(peer, null, exception.Message);
            }
        }));
    }

    private static readonly TimeSpan PeerStatusTimeout = TimeSpan.FromSeconds(2);

    /// <summary>HttpKv has one storage format and cannot go back to an older one, so no downgrade is ever started or
    /// in progress: validate and enable answer etcd's invalid-target error for every version, cancel etcd's no-job
    /// error (docs/operations.md).</summary>
    public async Task<DowngradeResponse> DowngradeAsync(DowngradeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await host.Ready;
        if (request.Action == DowngradeRequest.Types.DowngradeAction.Cancel) throw EtcdErrors.NoInflightDowngrade.ToException();
        throw EtcdErrors.InvalidDowngradeTargetVersion.ToException();
    }
}
