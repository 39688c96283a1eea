using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HttpKv.Compat.Tests;

/// <summary>A real server process (httpkv, or etcd as the oracle) on a free loopback port with its own data dir.
/// Start waits for etcd's "ready to serve client requests" line; Kill is kill -9.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly string fileName;
    private readonly Func<ServerProcess, IEnumerable<string>> arguments;
    private readonly StringBuilder output = new();
    private Process? process;
    private TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(string fileName, Func<ServerProcess, IEnumerable<string>> arguments)
    {
        this.fileName = fileName;
        this.arguments = arguments;
    }

    public int ClientPort { get; } = FreePort();
    public int PeerPort { get; } = FreePort();
    public string DataDir { get; } = Directory.CreateTempSubdirectory("httpkv-compat-").FullName;
    public string Endpoint => $"127.0.0.1:{ClientPort}";
    public string Url => $"http://{Endpoint}";
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>HttpKv, run from the build output of src/HttpKv (the same binary `dotnet publish` makes).</summary>
    public static ServerProcess HttpKv(params string[] extraFlags) => new("dotnet", server =>
        new[] { Paths.HttpKvDll }.Concat(server.CommonFlags()).Concat(extraFlags));

    /// <summary>The real etcd from Debian's etcd-server package, the oracle for output comparisons.</summary>
    public static ServerProcess Etcd(params string[] extraFlags) => new("etcd", server => server.CommonFlags().Concat(extraFlags));

    /// <summary>The same identity flags for both, so member and cluster IDs (and so headers) agree.</summary>
    private IEnumerable<string> CommonFlags() =>
    [
        "--data-dir", DataDir,
        "--listen-client-urls", Url, "--advertise-client-urls", Url,
        "--listen-peer-urls", $"http://127.0.0.1:{PeerPort}",
    ];

    public async Task StartAsync()
    {
        ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo(fileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments(this)) start.ArgumentList.Add(argument);
        start.Environment["ETCD_UNSUPPORTED_ARCH"] = "";
        process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.ErrorDataReceived += (_, line) => Collect(line.Data);
        process.OutputDataReceived += (_, line) => Collect(line.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(StartTimeout));
        if (first != ready.Task)
            throw new InvalidOperationException($"{fileName} did not become ready (exited: {process.HasExited}). Output:\n{Output}");
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
        if (line.Contains("ready to serve client requests")) ready.TrySetResult();
    }

    /// <summary>kill -9: no chance to flush or clean up.</summary>
    public async Task KillAsync()
    {
        if (process is null || process.HasExited) return;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process?.Dispose();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Ports below the kernel's ephemeral range (32768+), handed out once per test run: a port the kernel hands
    /// to nobody else, so a member killed and restarted on the same port never finds another test's server on it.</summary>
    private static int nextPort = 20000 + Environment.ProcessId % 1000 * 10;

    private static int FreePort()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref nextPort);
            if (port >= 32768) throw new InvalidOperationException("no free test port left below the ephemeral range");
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // in use by something outside this test run: take the next one
            }
        }
    }
}
