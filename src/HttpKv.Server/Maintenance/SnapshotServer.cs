using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Maintenance;

/// <summary>etcd's Maintenance.Snapshot: the member's backend as a stream of chunks.</summary>
public interface ISnapshotService
{
    IAsyncEnumerable<SnapshotResponse> SnapshotAsync(SnapshotRequest request, CancellationToken cancellationToken);
}

/// <summary>Streams a consistent, compacted copy of the member's backend as etcd 3.5 does: chunks of 32 KiB whose
/// <c>remaining_bytes</c> count down to 0, then one last message whose blob is the SHA-256 of every byte sent. A client
/// that writes every blob (etcdctl snapshot save) gets the database followed by its 32-byte digest, which
/// <c>snapshot restore</c> checks. The copy is a temporary file in the snap dir (send-client-*.db, removed at start if
/// the member dies first), deleted when the stream ends. Who may call it (root once auth is on, as etcd's
/// IsAdminPermitted; learners too) is decided before, by the authorizer and the learner check.</summary>
public sealed class SnapshotServer(MemberHost host, ILogger<SnapshotServer> logger) : ISnapshotService
{
    /// <summary>etcd's snapshotSendBufferSize.</summary>
    public const int ChunkBytes = 32 * 1024;

    /// <summary>A snapshot this large logs its progress every tenth of the way (and at least every 64 MiB).</summary>
    public const long ProgressThresholdBytes = 64L << 20;

    private static long sequence;

    public async IAsyncEnumerable<SnapshotResponse> SnapshotAsync(SnapshotRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        var started = Stopwatch.GetTimestamp();
        var path = member.Log.BackendCopyPath($"client-{Environment.ProcessId}-{Interlocked.Increment(ref sequence)}");
        long sent = 0;
        var completed = false;
        try
        {
            await member.Log.CopyBackendAsync(path);
            var revision = member.Stores.Current.CurrentRevision; // at least the copy's revision: the copy was taken first
            await using var data = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkBytes, FileOptions.SequentialScan);
            var total = data.Length;
            logger.LogInformation("Sending a database snapshot to a client: {Bytes} bytes, member at revision {Revision}", total, revision);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var progress = new SnapshotProgress(total, ProgressThresholdBytes);
            var first = true;
            while (sent < total)
            {
                // A new buffer per message: the response owns its blob until it is written.
                var buffer = new byte[(int)Math.Min(ChunkBytes, total - sent)];
                await data.ReadExactlyAsync(buffer, cancellationToken);
                sent += buffer.Length;
                sha.AppendData(buffer);
                var response = new SnapshotResponse { RemainingBytes = (ulong)(total - sent), Blob = UnsafeByteOperations.UnsafeWrap(buffer) };
                if (first) response.Header = member.Header(revision);
                first = false;
                yield return response;
                if (progress.Report(sent) is { } percent)
                    logger.LogInformation("Snapshot to a client: {Percent}% sent ({Sent} of {Bytes} bytes)", percent, sent, total);
            }
            var digest = sha.GetHashAndReset();
            var last = new SnapshotResponse { RemainingBytes = 0, Blob = ByteString.CopyFrom(digest) };
            if (first) last.Header = member.Header(revision);
            yield return last;
            completed = true;
            Metrics.ServerMetrics.BackendSnapshotDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            logger.LogInformation("Sent a database snapshot to a client: {Bytes} bytes in {Seconds:F2} s, sha256 {Sha256}",
                total, Stopwatch.GetElapsedTime(started).TotalSeconds, Convert.ToHexStringLower(digest));
        }
        finally
        {
            if (!completed) logger.LogWarning("A database snapshot to a client ended after {Sent} bytes (the client left or the copy failed)", sent);
            try
            {
                File.Delete(path);
            }
            catch (IOException exception)
            {
                logger.LogWarning("Could not delete the snapshot copy {Path}: {Error}", path, exception.Message);
            }
        }
    }
}

/// <summary>When to report progress through a transfer of <c>total</c> bytes: every tenth of the way, or every
/// <c>step</c> bytes if that comes sooner; nothing at all for a transfer smaller than <c>threshold</c>.</summary>
public sealed class SnapshotProgress(long total, long threshold, long step = 64L << 20)
{
    private long nextReport = total < threshold ? long.MaxValue : Math.Min(Math.Max(total / 10, 1), step);
    private readonly long interval = Math.Min(Math.Max(total / 10, 1), step);

    /// <summary>The percentage done when <paramref name="done"/> bytes crossed the next mark, else null.</summary>
    public int? Report(long done)
    {
        if (done < nextReport) return null;
        while (nextReport <= done) nextReport += interval;
        return (int)(done * 100 / Math.Max(total, 1));
    }
}
