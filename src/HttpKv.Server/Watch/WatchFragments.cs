using Etcdserverpb;
using Google.Protobuf;

namespace HttpKv.Server.Watch;

/// <summary>
/// etcd 3.4+'s watch fragments, for a watcher created with <c>fragment=true</c>. A response whose encoded size is
/// below the limit (etcd's: --max-request-bytes + 512 KiB), or that holds fewer than two events, goes whole. Otherwise its events are
/// cut into consecutive responses with the same header and watch id: each takes events in order while its encoded
/// size (fragment flag included) stays below the limit, and always at least one, so a single event larger than the
/// limit goes alone. Every part but the last has <c>fragment=true</c>; clients join parts until one without it.
/// </summary>
public static class WatchFragments
{
    /// <summary>The tag of WatchResponse.events (field 11, length-delimited) takes one byte.</summary>
    private const int EventTagBytes = 1;

    public static IEnumerable<WatchResponse> Split(WatchResponse response, int limitBytes)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Events.Count < 2 || response.CalculateSize() < limitBytes)
        {
            yield return response;
            yield break;
        }
        var empty = new WatchResponse
        {
            Header = response.Header, WatchId = response.WatchId, Created = response.Created, Canceled = response.Canceled,
            CompactRevision = response.CompactRevision, CancelReason = response.CancelReason, Fragment = true,
        };
        var emptyBytes = empty.CalculateSize();
        var next = 0;
        while (next < response.Events.Count)
        {
            var part = empty.Clone();
            var bytes = emptyBytes;
            for (; next < response.Events.Count; next++)
            {
                var change = response.Events[next];
                var eventBytes = EventTagBytes + CodedOutputStream.ComputeMessageSize(change);
                if (part.Events.Count > 0 && bytes + eventBytes >= limitBytes) break;
                part.Events.Add(change);
                bytes += eventBytes;
            }
            part.Fragment = next < response.Events.Count;
            yield return part;
        }
    }
}
