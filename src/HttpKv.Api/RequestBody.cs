using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace HttpKv.Api;

/// <summary>The one reader of a request body for the JSON and REST doors: the whole body into one pooled buffer (of
/// the declared length when there is one, so that the usual request grows nothing), at most <c>limit</c> bytes. A
/// longer body is refused as soon as it is seen to be longer, whatever the host (Kestrel also stops a body over its
/// own limit; the test host does not), so no body makes the buffer grow beyond the limit.</summary>
internal sealed class RequestBody : IDisposable
{
    private byte[] buffer;

    private RequestBody(byte[] buffer) => this.buffer = buffer;

    public int Length { get; private set; }
    public ReadOnlyMemory<byte> Memory => buffer.AsMemory(0, Length);
    public ReadOnlySpan<byte> Span => buffer.AsSpan(0, Length);

    /// <summary>The body, or null when it is longer than <paramref name="limit"/> bytes (then it is not read further).</summary>
    public static async Task<RequestBody?> ReadAsync(HttpContext context, int limit)
    {
        if (context.Request.ContentLength > limit) return null;
        // One byte more than the declared length, so the read that finds the end needs no growth.
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent((int)Math.Max(256, Math.Min(context.Request.ContentLength ?? 0, limit)) + 1));
        try
        {
            while (true)
            {
                if (body.Length == body.buffer.Length) body.Grow(limit);
                var read = await context.Request.Body.ReadAsync(body.buffer.AsMemory(body.Length), context.RequestAborted);
                if (read == 0) return body;
                body.Length += read;
                if (body.Length > limit)
                {
                    body.Dispose();
                    return null;
                }
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private void Grow(int limit)
    {
        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, limit + 1L));
        buffer.AsSpan(0, Length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = larger;
    }

    public void Dispose()
    {
        if (buffer.Length == 0) return;
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = [];
    }
}
