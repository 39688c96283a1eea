namespace HttpKv.Compat.Tests;

/// <summary>Runs the same client steps against the real etcd and against HttpKv, each started fresh with the same
/// identity flags (so member and cluster IDs, revisions and terms agree), and returns both transcripts.</summary>
public static class EtcdOracle
{
    public sealed record Step(string[] Arguments, string? Stdin = null)
    {
        public override string ToString() => $"etcdctl {string.Join(' ', Arguments)}{(Stdin is null ? "" : " <<< " + Stdin.ReplaceLineEndings("\\n"))}";
    }

    public static Step Etcdctl(params string[] arguments) => new(arguments);

    public static Step EtcdctlWithInput(string stdin, params string[] arguments) => new(arguments, stdin);

    public static async Task<(List<string> Etcd, List<string> HttpKv)> CompareAsync(IReadOnlyList<Step> steps)
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        return (await TranscriptAsync(etcd, steps), await TranscriptAsync(httpKv, steps));
    }

    private static async Task<List<string>> TranscriptAsync(ServerProcess server, IReadOnlyList<Step> steps)
    {
        var transcript = new List<string>();
        foreach (var step in steps)
        {
            var result = await Tool.EtcdctlAsync(server, step.Stdin, step.Arguments);
            transcript.Add($"{step}\nexit {result.ExitCode}\n{result.Stdout}{ErrorLines(result.Stderr)}");
        }
        return transcript;
    }

    /// <summary>etcdctl's retry warnings carry timestamps and addresses; the "Error: …" lines are what users see.</summary>
    private static string ErrorLines(string stderr) =>
        string.Join('\n', stderr.Split('\n').Where(line => line.StartsWith("Error", StringComparison.Ordinal)));

    /// <summary>Runs a Python client script (port as its first argument) against the real etcd and HttpKv: both must
    /// succeed and print the same.</summary>
    /// <param name="etcdArguments">extra arguments to the script when it runs against etcd.</param>
    public static async Task AssertPythonSameAsEtcdAsync(string script, params string[] etcdArguments)
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        var expected = await Tool.PythonAsync(script, [etcd.ClientPort.ToString(), .. etcdArguments]);
        var actual = await Tool.PythonAsync(script, httpKv.ClientPort.ToString());
        Assert.True(expected.ExitCode == 0, "against etcd: " + expected);
        Assert.True(actual.ExitCode == 0, "against httpkv: " + actual);
        Assert.Equal(expected.Stdout, actual.Stdout);
    }
}
