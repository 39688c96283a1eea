using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HttpKv.Robustness.Cluster;

/// <summary>One real httpkv member process on loopback with its own data directory. Kill is kill -9; Pause and
/// Resume are SIGSTOP and SIGCONT. Its output is kept (and saved with a failing run's history).</summary>
public sealed class MemberProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly StringBuilder output = new();
    private readonly Func<MemberProcess, IEnumerable<string>> flags;
    private Process? process;
    private TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="peerListenAddress">where the member really listens for peers; null: on its advertised peer URL.
    /// With an address, the member listens there on the same port, dials other members from it
    /// (HttpKv:PeerBindSource) and is reached through a proxy on the advertised URL.</param>
    public MemberProcess(string name, string dataRoot, Func<MemberProcess, IEnumerable<string>> flags, string? peerListenAddress = null)
    {
        Name = name;
        DataDir = Path.Combine(dataRoot, name);
        this.flags = flags;
        PeerListenAddress = peerListenAddress;
    }

    public string? PeerListenAddress { get; }

    public string Name { get; }
    public string DataDir { get; }
    public int ClientPort { get; } = Ports.Next();
    public int PeerPort { get; } = Ports.Next();
    public string ClientUrl => $"http://127.0.0.1:{ClientPort}";
    public string PeerUrl => $"http://127.0.0.1:{PeerPort}";
    public bool IsRunning => process is { HasExited: false };
    public bool IsPaused { get; private set; }

    public string Output
    {
        get { lock (output) return output.ToString(); }
    }

    /// <summary>Starts the member and waits until it serves clients.</summary>
    public async Task StartAsync()
    {
        Launch(failpoints: null);
        var first = await Task.WhenAny(ready.Task, process!.WaitForExitAsync(), Task.Delay(StartTimeout));
        if (first != ready.Task) throw new InvalidOperationException($"{Name} did not become ready (exited: {process.HasExited})\n{Output}");
    }

    /// <summary>Starts the member and waits until it serves clients (null) or exits (its exit code), e.g. when it
    /// refuses a damaged data dir.</summary>
    public async Task<int?> StartOrExitAsync()
    {
        Launch(failpoints: null);
        var exited = process!.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(StartTimeout));
        if (first == exited) return process.ExitCode;
        if (first == ready.Task) return null;
        throw new InvalidOperationException($"{Name} neither became ready nor exited in {StartTimeout.TotalSeconds} s\n{Output}");
    }

    /// <summary>The exit code once the process has ended on its own or been killed; null while it runs.</summary>
    public int? ExitCode => process is { HasExited: true } ? process.ExitCode : null;

    /// <summary>Waits until the process ends on its own; false when the time is up first.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (process is null) return true;
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Starts the member with HTTPKV_FAILPOINTS set, and waits until it crashes there (true) or the time is up.</summary>
    public async Task<bool> RunUntilFailpointAsync(string failpoints, TimeSpan timeout)
    {
        Launch(failpoints);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process!.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Launch(string? failpoints)
    {
        ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (failpoints is not null) start.Environment["HTTPKV_FAILPOINTS"] = failpoints;
        start.Environment["DOTNET_DbgEnableMiniDump"] = "0"; // a failpoint's crash needs no dump
        if (PeerListenAddress is not null) start.Environment["HttpKv__PeerBindSource"] = "true";
        start.ArgumentList.Add(Paths.HttpKvDll);
        foreach (var flag in new[] { "--name", Name, "--data-dir", DataDir, "--listen-client-urls", ClientUrl, "--advertise-client-urls", ClientUrl,
                     "--listen-peer-urls", PeerListenAddress is null ? PeerUrl : $"http://{PeerListenAddress}:{PeerPort}",
                     "--initial-advertise-peer-urls", PeerUrl }.Concat(flags(this)))
            start.ArgumentList.Add(flag);
        Append($"---- start {DateTime.UtcNow:O}{(failpoints is null ? "" : " with HTTPKV_FAILPOINTS=" + failpoints)}");
        process = Process.Start(start) ?? throw new InvalidOperationException("could not start httpkv");
        process.ErrorDataReceived += (_, line) => Collect(line.Data);
        process.OutputDataReceived += (_, line) => Collect(line.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        IsPaused = false;
    }

    private void Collect(string? line)
    {
        if (line is null) return;
        Append(line);
        if (line.Contains("ready to serve client requests", StringComparison.Ordinal)) ready.TrySetResult();
    }

    private void Append(string line)
    {
        lock (output) output.AppendLine(line);
    }

    public async Task KillAsync()
    {
        if (process is null || process.HasExited) return;
        Append($"---- kill -9 {DateTime.UtcNow:O}");
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        IsPaused = false;
    }

    public Task PauseAsync()
    {
        Append($"---- SIGSTOP {DateTime.UtcNow:O}");
        IsPaused = true;
        return SignalAsync("STOP");
    }

    public Task ResumeAsync()
    {
        Append($"---- SIGCONT {DateTime.UtcNow:O}");
        IsPaused = false;
        return SignalAsync("CONT");
    }

    private async Task SignalAsync(string signal)
    {
        if (!IsRunning) return;
        using var kill = Process.Start("kill", ["-" + signal, process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process?.Dispose();
    }
}

/// <summary>Loopback ports for members: below the kernel's ephemeral range, away from the compatibility tests'
/// range (20000+), each checked free and handed out once per run, so a restarted member gets its port back.</summary>
internal static class Ports
{
    private static int next = 10000 + Environment.ProcessId % 400 * 20;

    public static int Next()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref next);
            if (port >= 20000) throw new InvalidOperationException("no free port left for robustness members");
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken by something else: the next one
            }
        }
    }
}
