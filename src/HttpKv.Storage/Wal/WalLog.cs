using Microsoft.Extensions.Logging;

namespace HttpKv.Storage.Wal;

/// <summary>The WAL's structured log messages.</summary>
internal static partial class WalLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
        Message = "WAL torn tail cut off: file {FilePath} at offset {Offset}, {DroppedBytes} bytes dropped ({Reason})")]
    public static partial void TornTailTruncated(ILogger logger, string filePath, long offset, long droppedBytes, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "WAL opened in {Directory}: {SegmentCount} segments, {EntryCount} entries, last index {LastIndex}")]
    public static partial void Opened(ILogger logger, string directory, int segmentCount, int entryCount, ulong lastIndex);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "WAL segment created: {FilePath}")]
    public static partial void SegmentCreated(ILogger logger, string filePath);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error,
        Message = "WAL write to {FilePath} failed; the log refuses further appends until reopened")]
    public static partial void WriteFailed(ILogger logger, Exception exception, string filePath);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information,
        Message = "WAL segment {FileName} released: every entry in it is below index {Index} and durable in the backend")]
    public static partial void SegmentReleased(ILogger logger, string fileName, ulong index);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "WAL ignores file {FilePath}: not a segment name")]
    public static partial void ForeignFileIgnored(ILogger logger, string filePath);
}
