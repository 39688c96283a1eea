using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HttpKv.Compat.Tests;

/// <summary>A real server process (httpkv, or etcd as the oracle) on a free loopback port with its own data dir.
/// Start waits for etcd's "ready to serve client requests" line; Kill is kill -9; Pause/Resume are SIGSTOP/SIGCONT.
/// A member of a cluster (<see cref="ClusterProcess"/>) is made by <see cref="Member"/>.</summary>
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
    /// <summary>Settable: a member moved to new peer URLs (`member update`) restarts listening on a new port.</summary>
    public int PeerPort { get; set; } = FreePort();
    public string DataDir { get; } = Directory.CreateTempSubdirectory("httpkv-compat-").FullName;
    public string Endpoint => $"127.0.0.1:{ClientPort}";
    /// <summary>"http", or "https" for a server started with TLS on its client URL.</summary>
    public string Scheme { get; private init; } = "http";
    public string PeerScheme { get; private init; } = "http";
    public string Url => $"{Scheme}://{Endpoint}";
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>The member name (--name); etcd's default for a single member.</summary>
    public string Name { get; private init; } = "default";
    public string PeerUrl => $"{PeerScheme}://127.0.0.1:{PeerPort}";
    public bool IsRunning => process is { HasExited: false };
    public int Pid => process?.Id ?? throw new InvalidOperationException("not started");

    /// <summary>Extra environment variables for the process (e.g. DOTNET_gcServer=0 for memory measurements).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>HttpKv, run from the build output of src/HttpKv (the same binary `dotnet publish` makes).</summary>
    public static ServerProcess HttpKv(params string[] extraFlags) => new("dotnet", server =>
        new[] { Paths.HttpKvDll }.Concat(server.CommonFlags()).Concat(extraFlags));

    /// <summary>The real etcd from Debian's etcd-server package, the oracle for output comparisons.</summary>
    public static ServerProcess Etcd(params string[] extraFlags) => new("etcd", server => server.CommonFlags().Concat(extraFlags));

    /// <summary>A single server of the given kind whose client URL is https (the TLS flags are up to the caller).</summary>
    public static ServerProcess CreateHttps(string kind, params string[] extraFlags) => CreateHttps(kind, _ => extraFlags);

    /// <summary>As <see cref="CreateHttps(string, string[])"/>, with flags that depend on the server (its ports, say);
    /// flags given again override the common ones, as in etcd.</summary>
    public static ServerProcess CreateHttps(string kind, Func<ServerProcess, IEnumerable<string>> extraFlags) => kind switch
    {
        "etcd" => new ServerProcess("etcd", server => server.CommonFlags().Concat(extraFlags(server))) { Scheme = "https" },
        "httpkv" => new ServerProcess("dotnet", server => new[] { Paths.HttpKvDll }.Concat(server.CommonFlags()).Concat(extraFlags(server))) { Scheme = "https" },
        _ => throw new ArgumentException($"unknown server kind {kind}", nameof(kind)),
    };

    /// <summary>A server of the given kind ("etcd" or "httpkv").</summary>
    public static ServerProcess Create(string kind, params string[] extraFlags) => kind switch
    {
        "etcd" => Etcd(extraFlags),
        "httpkv" => HttpKv(extraFlags),
        _ => throw new ArgumentException($"unknown server kind {kind}", nameof(kind)),
    };

    /// <summary>A cluster member: its own ports, data dir and --name, plus the cluster flags, read at every start
    /// (so a test can change them between starts, as for a member added with --initial-cluster-state existing).</summary>
    public static ServerProcess Member(string kind, string name, Func<ServerProcess, IEnumerable<string>> clusterFlags, string peerScheme = "http")
    {
        IEnumerable<string> Flags(ServerProcess server) =>
            new[] { "--name", name, "--initial-advertise-peer-urls", server.PeerUrl }.Concat(server.CommonFlags()).Concat(clusterFlags(server));
        return kind switch
        {
            "etcd" => new ServerProcess("etcd", Flags) { Name = name, PeerScheme = peerScheme },
            "httpkv" => new ServerProcess("dotnet", server => new[] { Paths.HttpKvDll }.Concat(Flags(server))) { Name = name, PeerScheme = peerScheme },
            _ => throw new ArgumentException($"unknown server kind {kind}", nameof(kind)),
        };
    }

    /// <summary>The same identity flags for both, so member and cluster IDs (and so headers) agree.</summary>
    private IEnumerable<string> CommonFlags() =>
    [
        "--data-dir", DataDir,
        "--listen-client-urls", Url, "--advertise-client-urls", Url,
        "--listen-peer-urls", PeerUrl,
    ];

    public async Task StartAsync()
    {
        ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo(fileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments(this)) start.ArgumentList.Add(argument);
        start.Environment["ETCD_UNSUPPORTED_ARCH"] = "";
        foreach (var (name, value) in Environment) start.Environment[name] = value;
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
        process.Kill(entireProcessTree: true); // SIGKILL reaches a SIGSTOPped process too
        await process.WaitForExitAsync();
    }

    /// <summary>SIGSTOP: the process keeps its sockets but answers nothing, as a member cut off by a partition.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGTERM: the orderly stop a service manager asks for.</summary>
    public Task TerminateAsync() => SignalAsync("TERM");

    private async Task SignalAsync(string signal)
    {
        if (!IsRunning) throw new InvalidOperationException($"{Name} is not running");
        var result = await Tool.RunAsync("kill", ["-" + signal, Pid.ToString()]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {Pid}: {result}");
    }

    /// <summary>Waits for the process to exit by itself (e.g. a member removed from its cluster).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (process is null) return true;
        using var cancel = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cancel.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process?.Dispose();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Ports below the kernel's ephemeral range (32768+), handed out once per test run: a port the kernel hands
    /// to nobody else, so a member killed and restarted on the same port never finds another test's server on it.</summary>
    private static int nextPort = 20000 + System.Environment.ProcessId % 1000 * 10;

    /// <summary>Another port, free for this test run, for a server that listens on more than one client URL.</summary>
    public static int AllocatePort() => FreePort();

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
