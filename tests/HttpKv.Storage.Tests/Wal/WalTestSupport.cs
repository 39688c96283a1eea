using System.Text;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;
using HttpKv.Raft;

namespace HttpKv.Storage.Tests.Wal;

/// <summary>A directory of its own for one test, deleted afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "httpkv-wal-" + Guid.NewGuid().ToString("N"));

    public string[] SegmentFiles() =>
        Directory.GetFiles(Path, "*.wal").OrderBy(file => file, StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>Keeps every log message so tests can check warnings.</summary>
public sealed class RecordingLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _messages = new();

    public IReadOnlyList<(LogLevel Level, string Message)> Messages
    {
        get { lock (_messages) { return _messages.ToList(); } }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_messages)
        {
            _messages.Add((logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>Holds the WAL writer at its failpoint until released, so tests can queue work deterministically.</summary>
public sealed class WriterGate
{
    private readonly SemaphoreSlim _entered = new(0);
    private readonly ManualResetEventSlim _released = new(false);

    public void Hook()
    {
        _entered.Release();
        _released.Wait();
    }

    public Task WaitUntilWriterHeldAsync() => _entered.WaitAsync(TimeSpan.FromMinutes(2));

    public void Release() => _released.Set();
}

internal static class WalTest
{
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    /// <summary>The size of an <see cref="Entry"/>'s record ("entry-N" data, 7 bytes): 8 header + 1 record type +
    /// 16 term/index + 1 entry type + 7 data.</summary>
    public const int EntryRecordBytes = 33;

    public static Entry Entry(ulong index, ulong term = 1) =>
        new(term, index, (EntryType)(index % 2), Encoding.UTF8.GetBytes($"entry-{index % 10}"));

    public static Entry[] Entries(ulong first, ulong last, ulong term = 1)
    {
        var entries = new Entry[last - first + 1];
        for (ulong index = first; index <= last; index++)
        {
            entries[index - first] = Entry(index, term);
        }
        return entries;
    }

    public static (ulong Term, ulong Index, string Data)[] Describe(IEnumerable<Entry> entries) =>
        entries.Select(entry => (entry.Term, entry.Index, Encoding.UTF8.GetString(entry.Data.Span))).ToArray();

    public static WriteAheadLog Open(TempDirectory directory, ILogger? logger = null, WalOptions? options = null) =>
        WriteAheadLog.Open(directory.Path, options ?? new WalOptions(), logger ?? new RecordingLogger());
}
