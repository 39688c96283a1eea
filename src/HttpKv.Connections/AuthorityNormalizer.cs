using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HttpKv.Connections;

/// <summary>Lets HTTP/2 clients that send a URL as <c>:authority</c> be served, as etcd's Go server serves them.
///
/// etcdctl 3.4 dials each endpoint of <c>endpoint status</c>, <c>endpoint hashkv</c> and <c>defrag</c> by its whole URL
/// and so sends <c>:authority: http://127.0.0.1:2379</c>; Kestrel resets such a stream (PROTOCOL_ERROR: an invalid
/// Host) and has no option to allow it. This connection middleware sits between the transport and Kestrel's HTTP/2
/// parser and watches the first request's header block. When its <c>:authority</c> is a plain host the connection
/// is handed to Kestrel untouched (no copy: the reader only delegates from then on). When it holds a scheme, every
/// header block of that connection is rewritten on the way in, the scheme stripped (<see cref="HpackRewriter"/>).</summary>
public static class AuthorityNormalizer
{
    /// <summary>Adds the middleware to an endpoint that may carry HTTP/2 (after TLS, if any).</summary>
    public static void Use(ListenOptions listen) => listen.Use(next => async context =>
    {
        var transport = context.Transport;
        var reader = new NormalizingReader(transport.Input);
        context.Transport = new DuplexPipe(reader, transport.Output);
        try
        {
            await next(context);
        }
        finally
        {
            await reader.StopAsync();
            context.Transport = transport;
        }
    });

    /// <summary>The value to send on for <paramref name="name"/>: an <c>:authority</c> without its URL scheme; null
    /// for anything else.</summary>
    public static string? StripScheme(string name, string value)
    {
        if (name != ":authority") return null;
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        return scheme < 0 ? null : value[(scheme + 3)..].TrimEnd('/');
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}

/// <summary>HTTP/2 framing as far as <see cref="AuthorityNormalizer"/> needs it (RFC 9113 §4.1, §6.2, §6.10).</summary>
internal static class Http2Frames
{
    public const int HeaderLength = 9;
    public const byte Headers = 0x1;
    public const byte Continuation = 0x9;
    public const byte EndStream = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;
    /// <summary>SETTINGS_MAX_FRAME_SIZE's least value, which every receiver accepts.</summary>
    public const int MaxPayload = 16384;
    /// <summary>A header block (HEADERS and its CONTINUATIONs) larger than this ends the connection.</summary>
    public const int MaxHeaderBlock = 256 * 1024;

    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>The frame starting at <paramref name="at"/>, if all of it is in <paramref name="buffer"/>.</summary>
    public static bool TryReadFrame(in ReadOnlySequence<byte> buffer, long at, out Frame frame)
    {
        frame = default;
        if (buffer.Length - at < HeaderLength) return false;
        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(at, HeaderLength).CopyTo(header);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        if (buffer.Length - at - HeaderLength < length) return false;
        frame = new Frame(header[3], header[4], BinaryPrimitives.ReadUInt32BigEndian(header[5..]) & 0x7FFFFFFF, at, length);
        return true;
    }

    /// <summary>The header block fragment of a HEADERS or CONTINUATION frame, without padding and priority.</summary>
    public static ReadOnlySequence<byte> Fragment(in ReadOnlySequence<byte> buffer, Frame frame)
    {
        var payload = buffer.Slice(frame.Start + HeaderLength, frame.Length);
        if (frame.Type != Headers) return payload;
        var skip = 0;
        var pad = 0;
        if ((frame.Flags & Padded) != 0)
        {
            if (payload.Length < 1) throw new HpackException("PADDED HEADERS frame without a pad length");
            pad = payload.FirstSpan[0];
            skip = 1;
        }
        if ((frame.Flags & Priority) != 0) skip += 5;
        if (skip + pad > payload.Length) throw new HpackException("HEADERS frame shorter than its padding and priority");
        return payload.Slice(skip, payload.Length - skip - pad);
    }

    public static ReadOnlySequence<byte> PriorityBytes(in ReadOnlySequence<byte> buffer, Frame frame) =>
        (frame.Flags & Priority) == 0 ? default : buffer.Slice(frame.Start + HeaderLength + ((frame.Flags & Padded) != 0 ? 1 : 0), 5);

    public static void WriteHeader(IBufferWriter<byte> output, int length, byte type, byte flags, uint stream)
    {
        var span = output.GetSpan(HeaderLength);
        span[0] = (byte)(length >> 16);
        span[1] = (byte)(length >> 8);
        span[2] = (byte)length;
        span[3] = type;
        span[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(span[5..], stream);
        output.Advance(HeaderLength);
    }

    internal readonly record struct Frame(byte Type, byte Flags, uint Stream, long Start, int Length)
    {
        public long End => Start + HeaderLength + Length;
        public bool EndsBlock => (Flags & EndHeaders) != 0;
    }
}

/// <summary>The reader Kestrel's HTTP/2 parser reads through. Until the first header block has been seen it hands
/// Kestrel the frames before that block only; then it either delegates to the transport (the usual case) or starts
/// a pump that rewrites every header block into a pipe, which Kestrel reads instead.</summary>
internal sealed class NormalizingReader(PipeReader inner) : PipeReader
{
    private enum Mode { Undecided, PassThrough, Rewrite }

    private Mode mode = Mode.Undecided;
    private ReadOnlySequence<byte> lastBuffer;
    /// <summary>Bytes of the connection Kestrel has consumed, and bytes checked to be no header block.</summary>
    private long consumed;
    private long vetted;
    private Pipe? rewritten;
    private Task? pump;

    /// <summary>Once decided, a read is the transport's (or the pipe's) own, with no async frame of this reader.</summary>
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => mode switch
    {
        Mode.PassThrough => inner.ReadAsync(cancellationToken),
        Mode.Rewrite => rewritten!.Reader.ReadAsync(cancellationToken),
        _ => ReadUndecidedAsync(cancellationToken),
    };

    private async ValueTask<ReadResult> ReadUndecidedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await inner.ReadAsync(cancellationToken);
            lastBuffer = result.Buffer;
            if (result.IsCanceled) return result;
            var handOut = Classify(result.Buffer);
            if (mode == Mode.PassThrough || mode == Mode.Undecided && result.IsCompleted)
            {
                mode = Mode.PassThrough;
                return result;
            }
            if (mode == Mode.Rewrite)
            {
                inner.AdvanceTo(result.Buffer.Start, result.Buffer.Start);
                rewritten = new Pipe();
                pump = PumpAsync(prefaceLeft: Math.Max(0, Http2Frames.Preface.Length - consumed));
                return await rewritten.Reader.ReadAsync(cancellationToken);
            }
            if (handOut > 0) return new ReadResult(result.Buffer.Slice(0, handOut), isCanceled: false, isCompleted: false);
            inner.AdvanceTo(result.Buffer.Start, result.Buffer.End); // the first header block is not all here yet
        }
    }

    /// <summary>Walks the frames not yet vetted; decides the mode when the first header block is complete. Returns how
    /// many bytes of <paramref name="buffer"/> Kestrel may have meanwhile: all of them unless a complete HEADERS frame
    /// is among them, since Kestrel decodes a HEADERS frame as soon as it has it whole.</summary>
    private long Classify(in ReadOnlySequence<byte> buffer)
    {
        var at = vetted - consumed;
        if (vetted < Http2Frames.Preface.Length)
        {
            var have = (int)Math.Min(buffer.Length - at, Http2Frames.Preface.Length - vetted);
            Span<byte> bytes = stackalloc byte[Http2Frames.Preface.Length];
            buffer.Slice(at, have).CopyTo(bytes);
            if (!bytes[..have].SequenceEqual(Http2Frames.Preface.Slice((int)vetted, have)))
            {
                mode = Mode.PassThrough; // not HTTP/2 (HTTP/1.1 chosen by ALPN): nothing to do
                return buffer.Length;
            }
            vetted += have;
            at += have;
            if (vetted < Http2Frames.Preface.Length) return buffer.Length;
        }
        while (Http2Frames.TryReadFrame(buffer, at, out var frame))
        {
            if (frame.Type != Http2Frames.Headers)
            {
                at = frame.End;
                vetted = consumed + at;
                continue;
            }
            var block = new ArrayBufferWriter<byte>();
            for (var part = frame; ;)
            {
                foreach (var segment in Http2Frames.Fragment(buffer, part)) block.Write(segment.Span);
                if (part.EndsBlock) break;
                if (!Http2Frames.TryReadFrame(buffer, part.End, out part)) return at;
                if (part.Type != Http2Frames.Continuation || block.WrittenCount > Http2Frames.MaxHeaderBlock)
                {
                    mode = Mode.PassThrough; // a protocol error, or more than Kestrel's header limits: Kestrel refuses it itself
                    return buffer.Length;
                }
            }
            try
            {
                new HpackRewriter(AuthorityNormalizer.StripScheme).Rewrite(block.WrittenSpan, out var changed);
                mode = changed ? Mode.Rewrite : Mode.PassThrough;
            }
            catch (HpackException)
            {
                mode = Mode.PassThrough; // not valid HPACK: Kestrel's decoder ends the connection with its own error
            }
            return buffer.Length;
        }
        return buffer.Length; // a frame still arriving: Kestrel cannot act on it either
    }

    public override void AdvanceTo(SequencePosition consumedTo) => AdvanceTo(consumedTo, consumedTo);

    public override void AdvanceTo(SequencePosition consumedTo, SequencePosition examined)
    {
        switch (mode)
        {
            case Mode.Rewrite:
                rewritten!.Reader.AdvanceTo(consumedTo, examined);
                return;
            case Mode.Undecided:
                consumed += lastBuffer.Slice(lastBuffer.Start, consumedTo).Length;
                break;
        }
        inner.AdvanceTo(consumedTo, examined);
    }

    public override bool TryRead(out ReadResult result)
    {
        switch (mode)
        {
            case Mode.PassThrough: return inner.TryRead(out result);
            case Mode.Rewrite: return rewritten!.Reader.TryRead(out result);
            default:
                result = default;
                return false; // nothing is handed out before it has been classified
        }
    }

    public override void CancelPendingRead()
    {
        if (mode == Mode.Rewrite) rewritten!.Reader.CancelPendingRead();
        else inner.CancelPendingRead();
    }

    public override void Complete(Exception? exception = null)
    {
        if (mode == Mode.Rewrite)
        {
            rewritten!.Reader.Complete(exception);
            inner.CancelPendingRead(); // stops the pump
            return;
        }
        inner.Complete(exception);
    }

    public async Task StopAsync()
    {
        if (pump is null) return;
        inner.CancelPendingRead();
        await pump;
    }

    /// <summary>Copies the connection's frames into <see cref="rewritten"/>, every header block rewritten.</summary>
    private async Task PumpAsync(long prefaceLeft)
    {
        var writer = rewritten!.Writer;
        var rewriter = new HpackRewriter(AuthorityNormalizer.StripScheme);
        var block = new ArrayBufferWriter<byte>();
        Http2Frames.Frame first = default;
        ReadOnlySequence<byte> priority = default;
        Exception? failure = null;
        try
        {
            while (true)
            {
                var result = await inner.ReadAsync();
                if (result.IsCanceled) break;
                var buffer = result.Buffer;
                long at = 0;
                if (prefaceLeft > 0)
                {
                    at = Math.Min(prefaceLeft, buffer.Length);
                    foreach (var segment in buffer.Slice(0, at)) writer.Write(segment.Span);
                    prefaceLeft -= at;
                }
                while (Http2Frames.TryReadFrame(buffer, at, out var frame))
                {
                    if (frame.Type == Http2Frames.Headers || first.Type == Http2Frames.Headers && frame.Type == Http2Frames.Continuation)
                    {
                        if (frame.Type == Http2Frames.Headers)
                        {
                            first = frame;
                            priority = new ReadOnlySequence<byte>(Http2Frames.PriorityBytes(buffer, frame).ToArray());
                        }
                        foreach (var segment in Http2Frames.Fragment(buffer, frame)) block.Write(segment.Span);
                        if (block.WrittenCount > Http2Frames.MaxHeaderBlock) throw new HpackException("header block too large");
                        if (frame.EndsBlock)
                        {
                            WriteBlock(writer, first, priority, rewriter.Rewrite(block.WrittenSpan, out _));
                            block.ResetWrittenCount();
                            first = default;
                        }
                    }
                    else
                    {
                        foreach (var segment in buffer.Slice(frame.Start, frame.End - frame.Start)) writer.Write(segment.Span);
                    }
                    at = frame.End;
                }
                inner.AdvanceTo(buffer.GetPosition(at), buffer.End);
                var flushed = await writer.FlushAsync();
                if (flushed.IsCompleted || result.IsCompleted) break;
            }
        }
        catch (Exception exception) // whatever stops the pump must reach Kestrel as the end of the connection, never a hang
        {
            failure = exception;
        }
        await writer.CompleteAsync(failure);
        await inner.CompleteAsync(failure);
    }

    /// <summary>One rewritten header block as HEADERS (and CONTINUATION frames if it needs more than one frame).</summary>
    private static void WriteBlock(PipeWriter writer, Http2Frames.Frame headers, ReadOnlySequence<byte> priority, byte[] block)
    {
        var offset = 0;
        var type = Http2Frames.Headers;
        do
        {
            var extra = type == Http2Frames.Headers ? (int)priority.Length : 0;
            var chunk = Math.Min(block.Length - offset, Http2Frames.MaxPayload - extra);
            var last = offset + chunk == block.Length;
            var flags = (byte)((last ? Http2Frames.EndHeaders : 0)
                | (type == Http2Frames.Headers ? headers.Flags & (Http2Frames.EndStream | Http2Frames.Priority) : 0));
            Http2Frames.WriteHeader(writer, extra + chunk, type, flags, headers.Stream);
            if (extra > 0)
            {
                foreach (var segment in priority) writer.Write(segment.Span);
            }
            writer.Write(block.AsSpan(offset, chunk));
            offset += chunk;
            type = Http2Frames.Continuation;
        } while (offset < block.Length);
    }
}
