using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Apply;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server.Apply;

/// <summary>A real MVCC store in a temporary directory, and entries applied to it one batch each, as the apply loop
/// does.</summary>
public sealed class ApplyFixture : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("httpkv-apply-").FullName;
    private ulong index;

    public ApplyFixture() => Store = MvccStore.Open(Path.Combine(dir, "db"), new MvccOptions { MapSizeBytes = 64 << 20 }, NullLogger.Instance);

    public MvccStore Store { get; }

    /// <summary>Applies <paramref name="request"/> at the next index in a batch of its own and commits it.</summary>
    public object Apply(IApplier applier, LogRequest request)
    {
        using var batch = Store.BeginApply();
        var result = applier.Apply(batch, NextIndex(), request);
        batch.Commit();
        return result;
    }

    /// <summary>The index of the next entry (for entries applied by hand).</summary>
    public ulong NextIndex() => ++index;

    /// <summary>The index of the last entry applied.</summary>
    public ulong LastIndex => index;

    public static LogRequest Put(string key, string value) =>
        new() { Put = new Etcdserverpb.PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } };

    public void Dispose()
    {
        Store.Dispose();
        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>An applier that records what reaches it and answers with a marker.</summary>
internal sealed class RecordingApplier(string name) : IApplier
{
    public List<LogRequest.RequestOneofCase> Seen { get; } = [];

    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        Seen.Add(request.RequestCase);
        batch.MarkApplied(index);
        return name;
    }
}
