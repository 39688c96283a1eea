using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace HttpKv.Bench;

/// <summary>The disk's floor for one acknowledged write: write --val-size bytes (4 KiB by default) and fdatasync, as
/// a write-ahead log does, into a preallocated file in --dir (preallocated like etcd's WAL segments, so the sync
/// carries data and not a growing file size). One operation = one write + fdatasync.</summary>
public static partial class FsyncWorkload
{
    /// <summary>The file wraps around after this many bytes, as a WAL segment would be cut.</summary>
    private const long RegionBytes = 64L * 1024 * 1024;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    public static async Task<RunResult> RunAsync(BenchOptions options)
    {
        var size = Math.Max(1, options.ValSize);
        var slots = Math.Max(1, RegionBytes / size);
        if (options.Duration is null) slots = Math.Min(slots, options.Total);
        var path = Path.Combine(options.Dir, $"httpkv-bench-fsync-{Environment.ProcessId}.tmp");
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
            FileOptions.DeleteOnClose, preallocationSize: slots * size);
        var data = KvWorkloads.BenchValue(size);
        return await Runner.RunAsync(options, _ => index =>
        {
            RandomAccess.Write(file, data, index % slots * size);
            Sync(file);
            return ValueTask.CompletedTask;
        });
    }

    private static void Sync(SafeFileHandle file)
    {
        if (fdatasync((int)file.DangerousGetHandle()) != 0)
            throw new BenchError($"fdatasync: errno {Marshal.GetLastPInvokeError()}");
    }
}
