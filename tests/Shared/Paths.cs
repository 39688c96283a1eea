namespace HttpKv.Tests.Shared;

/// <summary>Where the repository and the built httpkv are, for the tests that start the real process.</summary>
public static class Paths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string HttpKvDll { get; } = Path.Combine(RepositoryRoot, "src", "HttpKv", "bin",
#if DEBUG
        "Debug",
#else
        "Release",
#endif
        "net10.0", "httpkv.dll");

    /// <summary>The built load generator (src/HttpKv.Bench), from the same configuration as the tests.</summary>
    public static string HttpKvBenchDll { get; } = Path.Combine(RepositoryRoot, "src", "HttpKv.Bench", "bin",
#if DEBUG
        "Debug",
#else
        "Release",
#endif
        "net10.0", "httpkv-bench.dll");

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "HttpKv.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("HttpKv.sln not found above " + AppContext.BaseDirectory);
    }
}
