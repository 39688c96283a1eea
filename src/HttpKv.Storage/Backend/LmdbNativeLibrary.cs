using System.Reflection;
using System.Runtime.InteropServices;
using LightningDB;

namespace HttpKv.Storage.Backend;

/// <summary>Chooses the native LMDB library LightningDB calls: its own (NuGet, built for glibc ≥ 2.38) when it loads,
/// else <c>libhttpkv-lmdb.so</c>, compiled at build time from the vendored LMDB source (Native/lmdb/README.md).</summary>
public static class LmdbNativeLibrary
{
    private const string LightningDbLibraryName = "lmdb";
    private const string VendoredFileName = "libhttpkv-lmdb.so";
    private static int registered;

    /// <summary>Installs the resolver; call before the first LightningDB call. Safe to call more than once.</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(LightningEnvironment).Assembly, Resolve);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LightningDbLibraryName) return IntPtr.Zero;
        if (NativeLibrary.TryLoad(libraryName, assembly, searchPath, out var handle)) return handle;
        var vendored = Path.Combine(AppContext.BaseDirectory, VendoredFileName);
        if (NativeLibrary.TryLoad(vendored, out handle)) return handle;
        throw new DllNotFoundException(
            $"Cannot load LMDB: neither LightningDB's native library nor {vendored} loads. Build HttpKv on this machine with a C compiler (cc) installed.");
    }
}
