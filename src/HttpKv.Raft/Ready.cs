namespace HttpKv.Raft;

/// <summary>Everything the node needs its caller to do, in this order — the order is the safety contract:
/// <list type="number">
/// <item>Persist durably (fsync) <see cref="HardState"/> (when not null), <see cref="Entries"/> (appending, and
/// replacing any conflicting suffix from the first entry's index on) and <see cref="Snapshot"/> (when not null,
/// before the entries). Only when <see cref="MustSync"/> is false may the write skip the fsync.</item>
/// <item>Then send <see cref="Messages"/> (a vote or an acknowledgement sent before its state is durable can
/// elect two leaders or lose a committed entry after a crash). A message that cannot be delivered may be dropped;
/// report it with <see cref="RawNode.ReportUnreachable"/>, and the fate of a Snapshot message with
/// <see cref="RawNode.ReportSnapshot"/>.</item>
/// <item>Apply <see cref="Snapshot"/> to the state machine, then <see cref="CommittedEntries"/> in order (a
/// ConfChange entry by calling <see cref="RawNode.ApplyConfChange"/>); answer <see cref="ReadStates"/> once
/// the applied index reaches their index.</item>
/// <item>Call <see cref="RawNode.Advance"/> with this Ready before asking for the next one.</item>
/// </list></summary>
public sealed record Ready
{
    /// <summary>Leader or role changed since the previous Ready; null otherwise.</summary>
    public SoftState? SoftState { get; init; }

    /// <summary>Term, vote or commit changed since the previous Ready; null otherwise.</summary>
    public HardState? HardState { get; init; }

    public IReadOnlyList<ReadState> ReadStates { get; init; } = [];

    /// <summary>Entries to persist before the messages are sent.</summary>
    public IReadOnlyList<Entry> Entries { get; init; } = [];

    /// <summary>A snapshot received from the leader, to persist and apply; null when none.</summary>
    public Snapshot? Snapshot { get; init; }

    /// <summary>Entries committed by a quorum, to apply to the state machine (they are persisted at the latest by
    /// step 1 of this same Ready).</summary>
    public IReadOnlyList<Entry> CommittedEntries { get; init; } = [];

    /// <summary>Messages to send after persisting.</summary>
    public IReadOnlyList<Message> Messages { get; init; } = [];

    /// <summary>Whether the persisted write must be fsynced (new entries, or a changed term or vote).</summary>
    public bool MustSync { get; init; }
}
