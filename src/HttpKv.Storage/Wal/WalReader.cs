using Microsoft.Extensions.Logging;
using HttpKv.Raft;

namespace HttpKv.Storage.Wal;

/// <summary>What reading the segments at start-up found.</summary>
/// <param name="LastSegment">The segment to append to; null when the directory holds none.</param>
/// <param name="LastSegmentValidBytes">Where the last segment's valid records end (the file is cut there).</param>
internal sealed record WalReplay(
    List<Entry> Entries,
    HardState HardState,
    int SegmentCount,
    WalSegmentName? LastSegment,
    long LastSegmentValidBytes,
    WalSnapshot? Snapshot);

/// <summary>
/// Reads every segment in sequence order at start-up, applying Raft's rule to the entries, and decides
/// whether a bad record is a torn tail (cut off) or corruption (<see cref="WalCorruptionException"/>).
/// </summary>
internal static class WalReader
{
    public static WalReplay ReadAll(string directory, ILogger logger)
    {
        List<WalSegmentName> segments = ListSegments(directory, logger);
        var entries = new List<Entry>();
        var hardState = default(HardState);
        WalSnapshot? snapshot = null;
        long lastValidBytes = 0;
        for (int position = 0; position < segments.Count; position++)
        {
            string path = Path.Combine(directory, segments[position].FileName);
            bool isLast = position == segments.Count - 1;
            lastValidBytes = ReadSegment(path, isLast, entries, ref hardState, ref snapshot, logger);
        }
        WalSegmentName? last = segments.Count == 0 ? null : segments[^1];
        return new WalReplay(entries, hardState, segments.Count, last, lastValidBytes, snapshot);
    }

    private static List<WalSegmentName> ListSegments(string directory, ILogger logger)
    {
        var segments = new List<WalSegmentName>();
        foreach (string path in Directory.EnumerateFiles(directory, "*.wal"))
        {
            if (WalSegmentName.TryParse(Path.GetFileName(path), out WalSegmentName name))
            {
                segments.Add(name);
            }
            else
            {
                WalLog.ForeignFileIgnored(logger, path);
            }
        }
        segments.Sort((left, right) => left.Sequence.CompareTo(right.Sequence));
        for (int position = 1; position < segments.Count; position++)
        {
            if (segments[position].Sequence != segments[position - 1].Sequence + 1)
            {
                string path = Path.Combine(directory, segments[position].FileName);
                throw new WalCorruptionException(path, 0, $"segment sequence {segments[position - 1].Sequence + 1:x16} is missing before it");
            }
        }
        return segments;
    }

    /// <summary>Reads one segment; returns the length of its valid prefix.</summary>
    private static long ReadSegment(string path, bool isLast, List<Entry> entries, ref HardState hardState, ref WalSnapshot? snapshot, ILogger logger)
    {
        ReadOnlyMemory<byte> bytes = File.ReadAllBytes(path);
        int offset = 0;
        while (offset < bytes.Length)
        {
            WalReadStatus status = WalRecordFormat.TryRead(bytes, offset, out WalRecord record);
            if (status != WalReadStatus.Valid)
            {
                if (isLast && bytes.Span[offset..].IndexOfAnyExcept((byte)0) < 0)
                {
                    return offset; // the zeros the writer keeps ahead of its records (WalOptions.PreallocationBytes)
                }
                string reason = status == WalReadStatus.Short ? "record cut short" : "record fails its CRC or size check";
                if (!isLast)
                {
                    throw new WalCorruptionException(path, offset, $"{reason}, and later segments follow it");
                }
                if (HasValidRecordAfter(bytes, offset))
                {
                    throw new WalCorruptionException(path, offset, $"{reason}, and valid records follow it");
                }
                WalLog.TornTailTruncated(logger, path, offset, bytes.Length - offset, reason);
                return offset;
            }
            if (record.Type == WalRecordType.HardState)
            {
                hardState = WalRecordFormat.DecodeHardState(record.Payload.Span);
            }
            else if (record.Type == WalRecordType.Snapshot)
            {
                snapshot = WalRecordFormat.DecodeSnapshot(record.Payload.Span);
                entries.Clear(); // the snapshot holds them; the log goes on after its index
            }
            else
            {
                ApplyEntry(entries, WalRecordFormat.DecodeEntry(record.Payload), path, offset);
            }
            offset += record.RecordLength;
        }
        return offset;
    }

    /// <summary>Raft's rule: an entry with index i replaces the entry at i and drops every later one.</summary>
    internal static void ApplyEntry(List<Entry> entries, Entry entry, string path, long offset)
    {
        if (entries.Count > 0)
        {
            ulong first = entries[0].Index;
            ulong last = entries[^1].Index;
            if (entry.Index > last + 1)
            {
                throw new WalCorruptionException(path, offset, $"entry index {entry.Index} leaves a gap after index {last}");
            }
            int keep = entry.Index <= first ? 0 : (int)(entry.Index - first);
            entries.RemoveRange(keep, entries.Count - keep);
        }
        entries.Add(entry);
    }

    /// <summary>Whether any offset after <paramref name="badOffset"/> starts a record with a valid CRC.</summary>
    private static bool HasValidRecordAfter(ReadOnlyMemory<byte> bytes, int badOffset)
    {
        for (int offset = badOffset + 1; offset <= bytes.Length - WalRecordFormat.HeaderBytes; offset++)
        {
            if (WalRecordFormat.TryRead(bytes, offset, out _) == WalReadStatus.Valid)
            {
                return true;
            }
        }
        return false;
    }
}
