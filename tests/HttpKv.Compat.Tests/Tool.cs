using System.Diagnostics;

namespace HttpKv.Compat.Tests;

/// <summary>Runs a client program (etcdctl, curl, python) to completion and captures what it printed.</summary>
public static class Tool
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["ETCDCTL_API"] = "3";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static Task<Result> EtcdctlAsync(ServerProcess server, string? stdin, params string[] arguments) =>
        RunAsync("etcdctl", new[] { "--endpoints", server.Endpoint, "--command-timeout", "20s" }.Concat(arguments), stdin);

    /// <summary>etcdctl against a comma-separated endpoint list (a cluster, or one member of it). A later
    /// --command-timeout in the arguments wins over the default 20 s.</summary>
    public static Task<Result> EtcdctlAtAsync(string endpoints, params string[] arguments) =>
        RunAsync("etcdctl", new[] { "--endpoints", endpoints, "--command-timeout", "20s" }.Concat(arguments));

    /// <summary>etcdctl (5 s per try) until it succeeds, for up to 30 s: for a cluster still electing or catching up.</summary>
    public static async Task<Result> EtcdctlRetryAsync(string endpoints, params string[] arguments)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var result = await EtcdctlAtAsync(endpoints, ["--command-timeout", "5s", .. arguments]);
            if (result.ExitCode == 0) return result;
            if (DateTime.UtcNow > until) throw new TimeoutException($"etcdctl {string.Join(' ', arguments)} kept failing: {result}");
            await Task.Delay(500);
        }
    }

    public static Task<Result> PythonAsync(string script, params IEnumerable<string> arguments) =>
        RunAsync("/usr/bin/python3", new[] { "-c", script }.Concat(arguments));
}
