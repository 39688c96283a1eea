using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace HttpKv.Storage.Wal;

/// <summary>Forcing file data and directory entries to stable storage.</summary>
internal static partial class FileSync
{
    private const int ErrorInterrupted = 4; // EINTR
    private const int OpenReadOnly = 0;     // O_RDONLY

    /// <summary>fdatasync(2) on Linux; <see cref="FileStream.Flush(bool)"/> with true elsewhere.</summary>
    public static void SyncData(FileStream file)
    {
        if (!OperatingSystem.IsLinux())
        {
            file.Flush(flushToDisk: true);
            return;
        }
        int result;
        do
        {
            result = fdatasync(file.SafeFileHandle);
        }
        while (result != 0 && Marshal.GetLastPInvokeError() == ErrorInterrupted);
        ThrowOnError(result, "fdatasync", file.Name);
    }

    /// <summary>fsync(2) of the file, data and metadata (used when a file is created or truncated).</summary>
    public static void SyncFile(FileStream file) => file.Flush(flushToDisk: true);

    /// <summary>fsync(2) of a directory so that a created, renamed or removed entry survives a crash. No-op off Unix.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return;
        }
        int descriptor = open(directory, OpenReadOnly);
        ThrowOnError(descriptor < 0 ? -1 : 0, "open", directory);
        try
        {
            int result;
            do
            {
                result = fsync(descriptor);
            }
            while (result != 0 && Marshal.GetLastPInvokeError() == ErrorInterrupted);
            ThrowOnError(result, "fsync", directory);
        }
        finally
        {
            _ = close(descriptor);
        }
    }

    private static void ThrowOnError(int result, string call, string path)
    {
        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{call} failed for '{path}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
