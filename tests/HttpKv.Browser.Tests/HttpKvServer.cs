using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HttpKv.Browser.Tests;

/// <summary>The real httpkv process on a free loopback port with a temporary data dir (a small copy of the
/// compatibility tests' ServerProcess: this project does not reference that one). Start waits for etcd's
/// "ready to serve client requests" line.</summary>
public sealed class HttpKvServer(params string[] extraFlags) : IAsyncDisposable
{
    private readonly StringBuilder output = new();
    private TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? process;

    public int Port { get; } = FreePort();
    public int PeerPort { get; } = FreePort();
    public string DataDir { get; } = Directory.CreateTempSubdirectory("httpkv-browser-").FullName;
    public string Url => $"http://127.0.0.1:{Port}";
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>Starts the process (again, after <see cref="KillAsync"/>: same port, same data dir).</summary>
    public async Task StartAsync()
    {
        ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { Paths.HttpKvDll, "--data-dir", DataDir, "--listen-client-urls", Url, "--advertise-client-urls", Url,
            "--listen-peer-urls", $"http://127.0.0.1:{PeerPort}" }.Concat(extraFlags)) start.ArgumentList.Add(argument);
        process = Process.Start(start) ?? throw new InvalidOperationException("could not start httpkv");
        process.ErrorDataReceived += (_, line) => Collect(line.Data);
        process.OutputDataReceived += (_, line) => Collect(line.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var first = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90)));
        if (first != ready.Task) throw new InvalidOperationException($"httpkv did not become ready (exited: {process.HasExited}). Output:\n{Output}");
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
        if (line.Contains("ready to serve client requests", StringComparison.Ordinal)) ready.TrySetResult();
    }

    /// <summary>kill -9.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process?.Dispose();
        process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    // Below the kernel's ephemeral range, from a base other than the compatibility tests' so that runs side by side
    // rarely probe the same ports; a port in use is skipped.
    private static int nextPort = 30000 + Environment.ProcessId % 250 * 10;

    internal static int FreePort()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref nextPort);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // in use: take the next one
            }
        }
    }
}
