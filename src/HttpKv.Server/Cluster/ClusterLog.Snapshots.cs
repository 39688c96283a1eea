using HttpKv.Mvcc;
using HttpKv.Raft;
using HttpKv.Storage;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Cluster;

/// <summary>Snapshots: compacting the Raft log every --snapshot-count entries, sending the backend to a member that
/// fell behind the compacted log, and installing one received from the leader.</summary>
public sealed partial class ClusterLog
{
    private readonly Dictionary<ulong, string> receivedSnapshots = [];
    private ConfState confState = ConfState.Empty;

    /// <summary>The backend file this member serves from, and how to open it (for installing a received snapshot).</summary>
    public required string BackendPath { get; init; }
    public required Func<MvccStore> OpenStore { get; init; }

    internal void SetConfState(ConfState state) => confState = state;

    private void MaybeSnapshot()
    {
        var applied = AppliedIndex;
        if (applied - snapshotIndex < options.SnapshotCount) return;
        var store = stores.Current;
        var durable = store.ConsistentIndex;
        store.Sync();
        storage.CreateSnapshot(applied, confState, ReadOnlyMemory<byte>.Empty);
        var keep = options.SnapshotCatchUpEntries;
        if (applied > keep && applied - keep > storage.FirstIndex()) storage.Compact(applied - keep);
        var released = wal.ReleaseBefore(durable + 1);
        snapshotIndex = applied;
        logger.LogInformation("Snapshot at index {Index}: backend synced, Raft log compacted, {Segments} WAL segments released", applied, released);
    }

    /// <summary>Where <see cref="CopyBackendAsync"/> puts a copy named <paramref name="name"/>: in the snap dir, with the
    /// send- prefix that <see cref="Member.RemoveUnfinishedSnapshots"/> deletes at start should the member die first.</summary>
    public string BackendCopyPath(string name) => Path.Combine(options.SnapshotDirectory, $"send-{name}.db");

    /// <summary>Writes a consistent, compacted copy of the backend (one read transaction of the current store) to
    /// <paramref name="path"/>, off the caller's thread: the data of a snapshot for a peer or for a client
    /// (Maintenance.Snapshot). The caller deletes the file.</summary>
    public Task CopyBackendAsync(string path) => Task.Run(() =>
    {
        File.Delete(path);
        stores.Read(store => { store.CopyTo(path); return 0; });
    });

    /// <summary>Streams a consistent copy of the backend with the leader's snapshot message, off the loop.</summary>
    private async Task SendSnapshotAsync(Message message)
    {
        var path = BackendCopyPath($"{message.To:x16}-{message.Snapshot?.Metadata.Index ?? 0}");
        var succeeded = false;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await CopyBackendAsync(path);
            await using (var data = File.OpenRead(path))
            {
                Failpoints.Hit("snapshotBeforeSend");
                await transport.SendSnapshotAsync(message.To, message.Encode(), data, stopping.Token);
            }
            succeeded = true;
            Metrics.ServerMetrics.BackendSnapshotDuration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            logger.LogInformation("Sent a snapshot at index {Index} to {PeerId:x16}", message.Snapshot?.Metadata.Index, message.To);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            logger.LogWarning("Sending a snapshot to {PeerId:x16} failed: {Error}", message.To, exception.Message);
        }
        finally
        {
            try { File.Delete(path); } catch (IOException) { }
            Post(() => node.ReportSnapshot(message.To, succeeded));
        }
    }

    /// <summary>A snapshot from the leader: its backend file is complete at <paramref name="path"/>.</summary>
    public bool ReceiveSnapshot(byte[] message, string path)
    {
        var decoded = Message.Decode(message);
        if (decoded.Snapshot is null) throw new FormatException($"a snapshot stream whose Raft message ({decoded.Type}) carries no snapshot");
        return Post(() =>
        {
            receivedSnapshots[decoded.Snapshot.Metadata.Index] = path;
            node.Step(decoded);
        });
    }

    /// <summary>A message from a peer; dropped (Raft resends) when the loop is saturated. A malformed one throws
    /// <see cref="FormatException"/> here, on the caller's thread: the Raft loop never sees it (an exception there
    /// stops the member).</summary>
    public bool Deliver(ReadOnlyMemory<byte> message)
    {
        var decoded = Message.Decode(message);
        return Post(() => node.Step(decoded));
    }

    private void InstallSnapshot(Snapshot snapshot)
    {
        Metrics.ServerMetrics.SnapshotApplyInProgress.Set(1);
        try
        {
            InstallSnapshotCore(snapshot);
        }
        finally
        {
            Metrics.ServerMetrics.SnapshotApplyInProgress.Set(0);
        }
    }

    private void InstallSnapshotCore(Snapshot snapshot)
    {
        Failpoints.Hit("snapshotBeforeInstall");
        if (!receivedSnapshots.Remove(snapshot.Metadata.Index, out var path))
            throw new InvalidOperationException($"Raft asked to install a snapshot at index {snapshot.Metadata.Index} whose backend file never arrived");
        stores.Replace(() =>
        {
            File.Move(path, BackendPath, overwrite: true);
            File.Delete(BackendPath + "-lock");
            return OpenStore();
        });
        var store = stores.Current;
        domains.Restore(store);
        membership.Restore(store.ReadMeta(BackendMeta.Members));
        foreach (var member in membership.Snapshot) transport.AddOrUpdatePeer(member.ID, [.. member.PeerURLs]);
        confState = snapshot.Metadata.ConfState;
        Volatile.Write(ref appliedIndex, store.ConsistentIndex);
        Applied.Advance(store.ConsistentIndex, snapshot.Metadata.Term);
        snapshotIndex = store.ConsistentIndex;
        Interlocked.Exchange(ref appliedSignal, NewSignal()).TrySetResult();
        logger.LogInformation("Installed a snapshot from the leader: Raft index {Index}, backend at index {Applied}, revision {Revision}",
            snapshot.Metadata.Index, store.ConsistentIndex, store.CurrentRevision);
    }

    public async ValueTask DisposeAsync()
    {
        if (stopped) return;
        stopped = true;
        stopping.Cancel();
        commands.Writer.TryComplete();
        await loop;
        await ticker;
    }
}
