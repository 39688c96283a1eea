using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace HttpKv.Connections.Tests;

/// <summary>The reader <see cref="AuthorityNormalizer"/> puts in front of Kestrel's HTTP/2 parser, fed a connection's
/// bytes through a pipe: what comes out is what Kestrel would read.</summary>
public sealed class NormalizingReaderTests
{
    private const byte Data = 0x0, Headers = 0x1, Settings = 0x4, Continuation = 0x9;
    private const byte EndStream = 0x1, EndHeaders = 0x4;
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    [Fact]
    public async Task A_connection_whose_authority_is_a_plain_host_reaches_Kestrel_byte_for_byte()
    {
        var connection = Connection(Frame(Headers, EndHeaders, 1, Block("127.0.0.1:2379", "/etcdserverpb.KV/Range")), Frame(Data, EndStream, 1, [0, 0, 0, 0, 0]));

        var read = await ReadThroughAsync(connection, chunk: connection.Length);

        Assert.Equal(connection, read);
    }

    [Fact]
    public async Task Every_header_block_of_a_connection_with_a_URL_authority_loses_the_scheme_and_other_frames_pass_unchanged()
    {
        var data = Frame(Data, EndStream, 1, [0, 0, 0, 0, 2, 0x0a, 0x00]);
        var connection = Connection(
            Frame(Headers, EndHeaders, 1, Block("http://127.0.0.1:2379", "/etcdserverpb.Maintenance/Status")), data,
            Frame(Headers, EndHeaders | EndStream, 3, Block("http://127.0.0.1:2379/", "/etcdserverpb.Maintenance/HashKV")));

        var read = await ReadThroughAsync(connection, chunk: connection.Length);

        var frames = Frames(read);
        Assert.Equal([Settings, Headers, Data, Headers], frames.Select(frame => frame.Type));
        Assert.Equal(Preface, read[..Preface.Length]);
        Assert.Equal(data, frames[2].Bytes);
        Assert.Equal(EndHeaders | EndStream, frames[3].Flags);
        Assert.Equal(
        [
            [(":authority", "127.0.0.1:2379"), (":path", "/etcdserverpb.Maintenance/Status")],
            [(":authority", "127.0.0.1:2379"), (":path", "/etcdserverpb.Maintenance/HashKV")],
        ], HeaderLists(frames));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public async Task A_first_header_block_split_over_CONTINUATION_frames_and_arriving_in_small_pieces_is_still_rewritten(int chunk)
    {
        var block = Block("https://member-1.example:2379", "/etcdserverpb.KV/Put");
        var connection = Connection(Frame(Headers, 0, 1, block[..5]), Frame(Continuation, 0, 1, block[5..12]), Frame(Continuation, EndHeaders, 1, block[12..]));

        var read = await ReadThroughAsync(connection, chunk);

        var frames = Frames(read);
        Assert.Equal([Settings, Headers], frames.Select(frame => frame.Type));
        Assert.Equal([[(":authority", "member-1.example:2379"), (":path", "/etcdserverpb.KV/Put")]], HeaderLists(frames));
    }

    [Fact]
    public async Task A_connection_that_is_not_HTTP2_passes_through_untouched()
    {
        var request = "GET /health HTTP/1.1\r\nHost: http://127.0.0.1:2379\r\n\r\n"u8.ToArray();

        Assert.Equal(request, await ReadThroughAsync(request, chunk: 4));
    }

    /// <summary>Writes <paramref name="connection"/> into the transport's pipe <paramref name="chunk"/> bytes at a time
    /// while reading through a <see cref="NormalizingReader"/> as Kestrel does, and returns what was read.</summary>
    private static async Task<byte[]> ReadThroughAsync(byte[] connection, int chunk)
    {
        var transport = new Pipe();
        var reader = new NormalizingReader(transport.Reader);
        var writing = Task.Run(async () =>
        {
            for (var at = 0; at < connection.Length; at += chunk)
            {
                await transport.Writer.WriteAsync(connection.AsMemory(at, Math.Min(chunk, connection.Length - at)));
            }
            await transport.Writer.CompleteAsync();
        });
        var read = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            foreach (var segment in result.Buffer) read.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await writing;
        await reader.StopAsync();
        await reader.CompleteAsync();
        return read.WrittenSpan.ToArray();
    }

    private static byte[] Connection(params byte[][] frames) => [.. Preface, .. Frame(Settings, 0, 0, []), .. frames.SelectMany(frame => frame)];

    private static byte[] Frame(byte type, int flags, uint stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }

    /// <summary>A gRPC request's header block: <c>:method POST</c> (static index 3), then <c>:authority</c> (static name
    /// 1) and <c>:path</c> (static name 4) as literals without indexing, plain octets.</summary>
    private static byte[] Block(string authority, string path) => [0x83, .. Literal(1, authority), .. Literal(4, path)];

    private static byte[] Literal(byte nameIndex, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        Assert.True(bytes.Length < 127);
        return [nameIndex, (byte)bytes.Length, .. bytes];
    }

    private readonly record struct ReadFrame(byte Type, byte Flags, byte[] Bytes)
    {
        public ReadOnlySpan<byte> Payload => Bytes.AsSpan(9);
    }

    private static List<ReadFrame> Frames(byte[] connection)
    {
        var frames = new List<ReadFrame>();
        for (var at = Preface.Length; at < connection.Length;)
        {
            var length = (connection[at] << 16) | (connection[at + 1] << 8) | connection[at + 2];
            frames.Add(new ReadFrame(connection[at + 3], connection[at + 4], connection[at..(at + 9 + length)]));
            at += 9 + length;
        }
        return frames;
    }

    /// <summary>The literal (name, value) lists of the header blocks among <paramref name="frames"/> (indexed fields such
    /// as :method are not reported), decoded with one dynamic table as the receiver keeps it.</summary>
    private static List<List<(string, string)>> HeaderLists(List<ReadFrame> frames)
    {
        var lists = new List<List<(string, string)>>();
        var current = new List<(string, string)>();
        var decoder = new HpackRewriter((name, value) =>
        {
            current.Add((name, value));
            return null;
        });
        var block = new ArrayBufferWriter<byte>();
        foreach (var frame in frames.Where(frame => frame.Type is Headers or Continuation))
        {
            block.Write(frame.Payload);
            if ((frame.Flags & EndHeaders) == 0) continue;
            decoder.Rewrite(block.WrittenSpan, out _);
            lists.Add(current);
            current = [];
            block.ResetWrittenCount();
        }
        return lists;
    }
}
