using System.Text;
using Google.Protobuf;

namespace HttpKv.Benchmarks;

/// <summary>The keys and values the benchmarks use: 32-byte keys under one prefix and 256-byte values, as issue 8's
/// memory target (and etcd's benchmark defaults).</summary>
internal static class Data
{
    public const string Prefix = "bench/";
    public const int ValueBytes = 256;

    /// <summary>Key number <paramref name="i"/>: the prefix and a zero-padded number, 32 bytes, in numeric order.</summary>
    public static ByteString Key(int i) => ByteString.CopyFromUtf8(Prefix + i.ToString("D26", System.Globalization.CultureInfo.InvariantCulture));

    public static ByteString Value(int seed)
    {
        var bytes = new byte[ValueBytes];
        new Random(seed).NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "httpkv-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
