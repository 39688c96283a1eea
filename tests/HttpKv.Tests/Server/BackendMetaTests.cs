using System.Buffers.Binary;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;
using HttpKv.Server;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server;

/// <summary>The backend's meta values in one byte order, and the upgrade of a format-1 backend (numbers in the
/// machine's order, little-endian) when it is opened.</summary>
public sealed class BackendMetaTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("httpkv-backend-meta-").FullName;
    private string Path => System.IO.Path.Combine(dir, "db");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly MvccOptions Options = new() { MapSizeBytes = 64 << 20 };

    [Fact]
    public void A_format_1_backend_is_rewritten_big_endian_once_and_keeps_every_value()
    {
        var confState = new ConfState([0x8e9e05c52164694dUL, 0x91bc3c398fb3c146UL], [0xfd422379fda50e48UL]);
        using (var old = MvccStore.Open(Path, Options, NullLogger.Instance))
        using (var batch = old.BeginApply())
        {
            // As format 1 wrote them: BitConverter's (little-endian) numbers, the configuration's little-endian.
            batch.Apply(7, new LogRequest { Put = new PutRequest { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8("v") } });
            batch.SetMeta(BackendMeta.RaftTerm, BitConverter.GetBytes(3UL));
            batch.SetMeta(BackendMeta.ClusterId, BitConverter.GetBytes(0x1c6b0d2a9f3e4b57UL));
            batch.SetMeta(BackendMeta.AuthRevision, BitConverter.GetBytes(9UL));
            batch.SetMeta(BackendMeta.ConfState, LittleEndianConfState(confState));
            batch.SetMeta(BackendMeta.AuthEnabled, [1]);
            batch.Commit();
        }

        for (var open = 0; open < 2; open++) // the second open finds format 2 and changes nothing
        {
            using var store = BackendMeta.Open(Path, Options, NullLogger.Instance);

            Assert.Equal(BackendMeta.CurrentFormat, BackendMeta.ReadNumber(store, BackendMeta.Format));
            Assert.Equal(3UL, BackendMeta.ReadNumber(store, BackendMeta.RaftTerm));
            Assert.Equal(0x1c6b0d2a9f3e4b57UL, BackendMeta.ReadNumber(store, BackendMeta.ClusterId));
            Assert.Equal(9UL, BackendMeta.ReadNumber(store, BackendMeta.AuthRevision));
            Assert.Equal(confState, ConfStateCodec.Decode(store.ReadMeta(BackendMeta.ConfState)));
            Assert.Equal([0, 0, 0, 0, 0, 0, 0, 3], store.ReadMeta(BackendMeta.RaftTerm));
            Assert.Equal([1], store.ReadMeta(BackendMeta.AuthEnabled));
            Assert.Equal(7UL, store.ConsistentIndex);
            Assert.Equal(2, store.CurrentRevision);
        }
    }

    [Fact]
    public void A_new_backend_is_born_in_the_current_format()
    {
        using (var store = BackendMeta.Open(Path, Options, NullLogger.Instance))
        {
            Assert.Equal(BackendMeta.CurrentFormat, BackendMeta.ReadNumber(store, BackendMeta.Format));
            Assert.Equal(0UL, store.ConsistentIndex);
        }
        // A member that joins and replays the log from its start writes format-2 numbers: read back as such.
        using (var store = BackendMeta.Open(Path, Options, NullLogger.Instance))
        using (var batch = store.BeginApply())
        {
            batch.SetMeta(BackendMeta.RaftTerm, BackendMeta.Number(5));
            batch.Commit();
        }
        using var reopened = BackendMeta.Open(Path, Options, NullLogger.Instance);
        Assert.Equal(5UL, BackendMeta.ReadNumber(reopened, BackendMeta.RaftTerm));
    }

    [Fact]
    public void A_backend_of_a_newer_format_is_refused()
    {
        using (var store = MvccStore.Open(Path, Options, NullLogger.Instance))
        using (var batch = store.BeginApply())
        {
            batch.SetMeta(BackendMeta.Format, BackendMeta.Number(BackendMeta.CurrentFormat + 1));
            batch.Commit();
        }

        var refused = Assert.Throws<InvalidOperationException>(() => BackendMeta.Open(Path, Options, NullLogger.Instance));

        Assert.Contains($"of format {BackendMeta.CurrentFormat + 1}, written by a newer HttpKv", refused.Message);
    }

    [Fact]
    public void A_configuration_whose_length_disagrees_with_its_counts_is_reported_as_damaged()
    {
        var bytes = ConfStateCodec.Encode(new ConfState([1, 2, 3], []));

        Assert.Throws<InvalidOperationException>(() => ConfStateCodec.Decode(bytes[..^8]));
        Assert.Equal(new ConfState([1, 2, 3], []), ConfStateCodec.Decode(bytes));
    }

    private static byte[] LittleEndianConfState(ConfState state)
    {
        var bytes = new byte[8 + 8 * (state.Voters.Count + state.Learners.Count)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, state.Voters.Count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), state.Learners.Count);
        var ids = state.Voters.Concat(state.Learners).ToList();
        for (var i = 0; i < ids.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 + 8 * i), ids[i]);
        return bytes;
    }
}
