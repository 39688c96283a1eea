using System.Diagnostics;

namespace HttpKv.Robustness.Faults;

/// <summary>A small filesystem mounted for a member's data dir, so that writing fills it: a tmpfs with a size
/// limit, or (where tmpfs cannot be mounted) a loop-mounted ext4 image. Needs root (the robustness tests run as
/// root); when neither can be mounted the constructor throws with what each attempt answered.</summary>
public sealed class SmallDisk : IDisposable
{
    private readonly string? image;

    private SmallDisk(string mountPoint, string method, string? image)
    {
        MountPoint = mountPoint;
        Method = method;
        this.image = image;
    }

    public string MountPoint { get; }
    /// <summary>"tmpfs" or "loop ext4".</summary>
    public string Method { get; }

    public static SmallDisk Mount(string mountPoint, int megabytes)
    {
        Directory.CreateDirectory(mountPoint);
        var tmpfs = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", mountPoint);
        if (tmpfs.Code == 0) return new SmallDisk(mountPoint, "tmpfs", null);
        var image = mountPoint + ".img";
        var attempts = new List<string> { $"mount -t tmpfs: {tmpfs.Output}" };
        foreach (var (command, arguments) in new[]
                 {
                     ("truncate", new[] { "-s", $"{megabytes}M", image }),
                     ("mkfs.ext4", new[] { "-q", "-F", image }),
                     ("mount", new[] { "-o", "loop", image, mountPoint }),
                 })
        {
            var result = Run(command, arguments);
            if (result.Code != 0)
            {
                attempts.Add($"{command}: {result.Output}");
                File.Delete(image);
                throw new InvalidOperationException("cannot mount a small filesystem for the disk-full test (run as root with mount permitted): " +
                                                    string.Join("; ", attempts));
            }
        }
        return new SmallDisk(mountPoint, "loop ext4", image);
    }

    /// <summary>Makes the filesystem bigger in place (the data stays): space freed, as an operator would.</summary>
    public void Grow(int megabytes)
    {
        var result = image is null
            ? Run("mount", "-o", $"remount,size={megabytes}m", MountPoint)
            : GrowImage(megabytes);
        if (result.Code != 0) throw new InvalidOperationException($"cannot grow {MountPoint} ({Method}): {result.Output}");
    }

    private (int Code, string Output) GrowImage(int megabytes)
    {
        var steps = new[]
        {
            ("truncate", new[] { "-s", $"{megabytes}M", image! }),
            ("losetup", new[] { "-c", LoopDevice() }),
            ("resize2fs", new[] { LoopDevice() }),
        };
        foreach (var (command, arguments) in steps)
        {
            var result = Run(command, arguments);
            if (result.Code != 0) return result;
        }
        return (0, "");
    }

    private string LoopDevice() => Run("findmnt", "-n", "-o", "SOURCE", MountPoint).Output.Trim();

    public void Dispose()
    {
        if (Run("umount", MountPoint).Code != 0) Run("umount", "-l", MountPoint);
        if (image is not null) File.Delete(image);
    }

    private static (int Code, string Output) Run(string command, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, (output.Result + error).Trim());
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return (-1, exception.Message);
        }
    }
}
