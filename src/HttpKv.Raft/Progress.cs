namespace HttpKv.Raft;

/// <summary>A bounded window of Append messages sent to a follower and not yet acknowledged, by last index.</summary>
internal sealed class Inflights(int capacity)
{
    private readonly Queue<ulong> lastIndexes = new(Math.Min(capacity, 64));

    public bool Full => lastIndexes.Count >= capacity;
    public int Count => lastIndexes.Count;

    public void Add(ulong lastIndex)
    {
        Invariant.Check(!Full, "inflights window overflow");
        lastIndexes.Enqueue(lastIndex);
    }

    /// <summary>Frees every message whose last index is ≤ <paramref name="index"/>.</summary>
    public void FreeLE(ulong index)
    {
        while (lastIndexes.Count > 0 && lastIndexes.Peek() <= index) lastIndexes.Dequeue();
    }

    /// <summary>Frees the oldest message: a heartbeat answer shows the follower is reachable even though the
    /// window's messages may all have been lost.</summary>
    public void FreeFirstOne()
    {
        if (lastIndexes.Count > 0) lastIndexes.Dequeue();
    }

    public void Reset() => lastIndexes.Clear();
}

/// <summary>The leader's view of one follower. Probe: send one Append at a time until the match point is found.
/// Replicate: stream Appends optimistically within the inflight window. Snapshot: wait for the snapshot.</summary>
internal sealed class Progress(ulong match, ulong next, int maxInflight, bool isLearner)
{
    public ulong Match = match;
    public ulong Next = next;
    public ProgressState State = ProgressState.Probe;
    public ulong PendingSnapshot;
    public bool RecentActive;
    public bool ProbeSent;
    public bool IsLearner = isLearner;
    public readonly Inflights Inflights = new(maxInflight);

    private void ResetState(ProgressState state)
    {
        ProbeSent = false;
        PendingSnapshot = 0;
        State = state;
        Inflights.Reset();
    }

    public void BecomeProbe()
    {
        var pendingSnapshot = State == ProgressState.Snapshot ? PendingSnapshot : 0;
        ResetState(ProgressState.Probe);
        Next = Math.Max(Match + 1, pendingSnapshot + 1);
    }

    public void BecomeReplicate()
    {
        ResetState(ProgressState.Replicate);
        Next = Match + 1;
    }

    public void BecomeSnapshot(ulong snapshotIndex)
    {
        ResetState(ProgressState.Snapshot);
        PendingSnapshot = snapshotIndex;
    }

    /// <summary>The follower acknowledged up to index. Returns whether Match advanced.</summary>
    public bool MaybeUpdate(ulong index)
    {
        var updated = false;
        if (Match < index)
        {
            Match = index;
            updated = true;
            ProbeSent = false;
        }
        Next = Math.Max(Next, index + 1);
        return updated;
    }

    /// <summary>The follower rejected the Append after <paramref name="rejected"/>; it may match at
    /// <paramref name="matchHint"/>. Returns false when the rejection is stale.</summary>
    public bool MaybeDecreaseTo(ulong rejected, ulong matchHint)
    {
        if (State == ProgressState.Replicate)
        {
            if (rejected <= Match) return false;
            Next = Match + 1;
            return true;
        }
        if (Next - 1 != rejected) return false;
        Next = Math.Max(Math.Min(rejected, matchHint + 1), Match + 1);
        ProbeSent = false;
        return true;
    }

    public bool IsPaused => State switch
    {
        ProgressState.Probe => ProbeSent,
        ProgressState.Replicate => Inflights.Full,
        _ => true,
    };

    public ProgressStatus ToStatus() => new(Match, Next, State, IsLearner, RecentActive, PendingSnapshot);
}

internal enum VoteResult { Pending, Won, Lost }

/// <summary>Membership, per-node progress and election votes. A quorum is a majority of voters; learners never count.</summary>
internal sealed class ProgressTracker(int maxInflight)
{
    public readonly SortedDictionary<ulong, Progress> Progress = [];
    private readonly Dictionary<ulong, bool> votes = [];

    public IEnumerable<ulong> Voters => Progress.Where(p => !p.Value.IsLearner).Select(p => p.Key);
    public IEnumerable<ulong> Learners => Progress.Where(p => p.Value.IsLearner).Select(p => p.Key);
    public int VoterCount => Progress.Values.Count(p => !p.IsLearner);
    public int Quorum => VoterCount / 2 + 1;

    public ConfState ConfState() => new([.. Voters], [.. Learners]);

    public bool IsVoter(ulong id) => Progress.TryGetValue(id, out var progress) && !progress.IsLearner;

    public void Reset(ConfState confState, ulong lastIndex)
    {
        Progress.Clear();
        foreach (var id in confState.Voters) Progress[id] = new Progress(0, lastIndex + 1, maxInflight, false);
        foreach (var id in confState.Learners) Progress[id] = new Progress(0, lastIndex + 1, maxInflight, true);
    }

    public void Add(ulong id, ulong next, bool isLearner) =>
        Progress[id] = new Progress(0, next, maxInflight, isLearner) { RecentActive = true };

    /// <summary>The highest index a quorum of voters has (0 when there are no voters).</summary>
    public ulong CommittedIndex() => QuorumValue(Progress.Values.Where(p => !p.IsLearner).Select(p => p.Match));

    /// <summary>The largest value at least a quorum of voters have reached, given one value per voter.</summary>
    public ulong QuorumValue(IEnumerable<ulong> valuePerVoter)
    {
        var sorted = valuePerVoter.OrderDescending().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    /// <summary>Whether a quorum of voters (counting <paramref name="self"/>) was recently active.</summary>
    public bool QuorumActive(ulong self) =>
        Progress.Count(p => !p.Value.IsLearner && (p.Key == self || p.Value.RecentActive)) >= Quorum;

    public void ResetVotes() => votes.Clear();

    public VoteResult RecordVote(ulong id, bool granted)
    {
        if (IsVoter(id)) votes.TryAdd(id, granted);
        var grantedCount = votes.Count(v => v.Value);
        var rejectedCount = votes.Count(v => !v.Value);
        if (grantedCount >= Quorum) return VoteResult.Won;
        return VoterCount - rejectedCount < Quorum ? VoteResult.Lost : VoteResult.Pending;
    }
}
