using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Mvcc.Tests;

/// <summary>A store in its own temp dir, with one-entry-per-batch helpers.</summary>
internal sealed class TestStore : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "httpkv-mvcc-" + Guid.NewGuid().ToString("N"));

    public TestStore() => Store = Open();

    public MvccStore Store { get; private set; }

    public string BackendPath => Path.Combine(directory, "member", "snap", "db");

    public ulong NextIndex { get; private set; } = 1;

    private MvccStore Open() => MvccStore.Open(BackendPath, new MvccOptions { MapSizeBytes = 64L << 20 }, NullLogger.Instance);

    public void Reopen()
    {
        Store.Dispose();
        Store = Open();
        NextIndex = Store.ConsistentIndex + 1;
    }

    public IMessage Apply(LogRequest request)
    {
        using var batch = Store.BeginApply();
        try
        {
            return batch.Apply(NextIndex++, request);
        }
        finally
        {
            batch.Commit();
        }
    }

    public PutResponse Put(string key, string value, bool prevKv = false) =>
        Put(new PutRequest { Key = B(key), Value = B(value), PrevKv = prevKv });

    public PutResponse Put(PutRequest put) => (PutResponse)Apply(new LogRequest { Put = put });

    public DeleteRangeResponse Delete(string key, string? end = null, bool prevKv = false) =>
        (DeleteRangeResponse)Apply(new LogRequest { DeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = B(end), PrevKv = prevKv } });

    public TxnResponse Txn(TxnRequest txn) => (TxnResponse)Apply(new LogRequest { Txn = txn });

    public CompactionResponse Compact(long revision) =>
        (CompactionResponse)Apply(new LogRequest { Compaction = new CompactionRequest { Revision = revision } });

    public RangeResponse Get(string key, string? end = null, long revision = 0) =>
        Store.Range(new RangeRequest { Key = B(key), RangeEnd = B(end), Revision = revision });

    /// <summary>key=value@mod/create/version, in response order.</summary>
    public string Dump(RangeResponse response) =>
        string.Join(" ", response.Kvs.Select(kv => $"{S(kv.Key)}={S(kv.Value)}@{kv.ModRevision}/{kv.CreateRevision}/{kv.Version}"));

    public static ByteString B(string? text) => text is null ? ByteString.Empty : ByteString.CopyFromUtf8(text);

    public static string S(ByteString bytes) => bytes.ToStringUtf8();

    public static EtcdError ErrorOf(Action action) => Assert.Throws<EtcdException>(action).Error;

    public void Dispose()
    {
        Store.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp dir is harmless
        }
    }
}
