using BenchmarkDotNet.Running;

namespace HttpKv.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["index-memory", ..]) IndexMemory(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
        else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    /// <summary>The key index's managed bytes per key (live objects after a full GC, so growth garbage is not
    /// counted), for <paramref name="keys"/> of the benchmarks' 32-byte keys put once and then half of them again.</summary>
    private static void IndexMemory(int keys)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var index = new Mvcc.TreeIndex();
        var revision = 1L;
        for (var i = 0; i < keys; i++) index.GetOrAdd(Data.Key(i).Memory).Put(new Mvcc.Revision(++revision, 0), revision, 1);
        var once = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < keys; i += 2) index.Find(Data.Key(i).Memory)!.Put(new Mvcc.Revision(++revision, 0), 0, 2);
        var twice = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"{keys:N0} keys of {Data.Key(0).Length} bytes: {(double)(once - before) / keys:F0} bytes per key with one revision, " +
            $"{(double)(twice - before) / keys:F0} with half of them at two revisions");
        GC.KeepAlive(index);
    }
}
