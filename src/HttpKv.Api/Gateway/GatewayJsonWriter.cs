using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using Etcdserverpb;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Mvccpb;

namespace HttpKv.Api.Gateway;

/// <summary>
/// The gateway JSON of the KV answers (RangeResponse, PutResponse, DeleteRangeResponse), written straight into the
/// response's buffer: the same bytes as <see cref="ProtoJsonWriter"/>'s reflection path (a test compares them), with no
/// reflection and no boxing per field, which for a large range is most of the cost of writing it.
/// </summary>
/// <remarks>jsonpb's layout: compact, fields in declaration order, zero values left out, 64-bit integers as quoted
/// decimals, bytes as padded base64.</remarks>
internal static class GatewayJsonWriter
{
    /// <summary>Writes <paramref name="message"/> when it is a type this writer knows; false (nothing written) otherwise.</summary>
    public static bool TryWrite(IMessage message, IBufferWriter<byte> output)
    {
        switch (message)
        {
            case RangeResponse range:
                WriteRange(output, range);
                return true;
            case PutResponse put:
                WritePut(output, put);
                return true;
            case DeleteRangeResponse delete:
                WriteDeleteRange(output, delete);
                return true;
            default:
                return false;
        }
    }

    private static void WriteRange(IBufferWriter<byte> output, RangeResponse range)
    {
        var first = true;
        Raw(output, "{"u8);
        Header(output, ref first, range.Header);
        if (range.Kvs.Count > 0)
        {
            Name(output, ref first, "kvs"u8);
            WriteKeyValues(output, range.Kvs);
        }
        if (range.More)
        {
            Name(output, ref first, "more"u8);
            Raw(output, "true"u8);
        }
        Int64(output, ref first, "count"u8, range.Count);
        Raw(output, "}"u8);
    }

    private static void WritePut(IBufferWriter<byte> output, PutResponse put)
    {
        var first = true;
        Raw(output, "{"u8);
        Header(output, ref first, put.Header);
        if (put.PrevKv is { } previous)
        {
            Name(output, ref first, "prev_kv"u8);
            WriteKeyValue(output, previous);
        }
        Raw(output, "}"u8);
    }

    private static void WriteDeleteRange(IBufferWriter<byte> output, DeleteRangeResponse delete)
    {
        var first = true;
        Raw(output, "{"u8);
        Header(output, ref first, delete.Header);
        Int64(output, ref first, "deleted"u8, delete.Deleted);
        if (delete.PrevKvs.Count > 0)
        {
            Name(output, ref first, "prev_kvs"u8);
            WriteKeyValues(output, delete.PrevKvs);
        }
        Raw(output, "}"u8);
    }

    private static void Header(IBufferWriter<byte> output, ref bool first, ResponseHeader? header)
    {
        if (header is null) return;
        Name(output, ref first, "header"u8);
        WriteHeader(output, header);
    }

    private static void WriteHeader(IBufferWriter<byte> output, ResponseHeader header)
    {
        var first = true;
        Raw(output, "{"u8);
        UInt64(output, ref first, "cluster_id"u8, header.ClusterId);
        UInt64(output, ref first, "member_id"u8, header.MemberId);
        Int64(output, ref first, "revision"u8, header.Revision);
        UInt64(output, ref first, "raft_term"u8, header.RaftTerm);
        Raw(output, "}"u8);
    }

    private static void WriteKeyValues(IBufferWriter<byte> output, RepeatedField<KeyValue> kvs)
    {
        Raw(output, "["u8);
        for (var i = 0; i < kvs.Count; i++)
        {
            if (i > 0) Raw(output, ","u8);
            WriteKeyValue(output, kvs[i]);
        }
        Raw(output, "]"u8);
    }

    private static void WriteKeyValue(IBufferWriter<byte> output, KeyValue kv)
    {
        var first = true;
        Raw(output, "{"u8);
        Bytes(output, ref first, "key"u8, kv.Key);
        Int64(output, ref first, "create_revision"u8, kv.CreateRevision);
        Int64(output, ref first, "mod_revision"u8, kv.ModRevision);
        Int64(output, ref first, "version"u8, kv.Version);
        Bytes(output, ref first, "value"u8, kv.Value);
        Int64(output, ref first, "lease"u8, kv.Lease);
        Raw(output, "}"u8);
    }

    private static void Name(IBufferWriter<byte> output, ref bool first, ReadOnlySpan<byte> name)
    {
        Raw(output, first ? "\""u8 : ",\""u8);
        Raw(output, name);
        Raw(output, "\":"u8);
        first = false;
    }

    private static void Int64(IBufferWriter<byte> output, ref bool first, ReadOnlySpan<byte> name, long value) =>
        Number(output, ref first, name, value);

    private static void UInt64(IBufferWriter<byte> output, ref bool first, ReadOnlySpan<byte> name, ulong value) =>
        Number(output, ref first, name, value);

    /// <summary>A 64-bit integer as jsonpb writes it: a quoted decimal, left out when zero.</summary>
    private static void Number<T>(IBufferWriter<byte> output, ref bool first, ReadOnlySpan<byte> name, T value)
        where T : struct, System.Numerics.IBinaryInteger<T>, IUtf8SpanFormattable
    {
        if (T.IsZero(value)) return;
        Name(output, ref first, name);
        ProtoJsonWriter.Number(output, value, quoted: true);
    }

    private static void Bytes(IBufferWriter<byte> output, ref bool first, ReadOnlySpan<byte> name, ByteString value)
    {
        if (value.Length == 0) return;
        Name(output, ref first, name);
        ProtoJsonWriter.WriteBase64(output, value.Span);
    }

    private static void Raw(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes) => ProtoJsonWriter.Raw(output, bytes);
}
