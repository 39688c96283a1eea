using HttpKv.Protocol;

namespace HttpKv.Server.Cluster;

/// <summary>How far this member has applied the log (index, and the term of that entry), for operations that must
/// see everything committed before they answer: etcd's waitAppliedIndex, which a leader runs before renewing a lease
/// or reading its time to live. A new leader has applied every earlier leader's entries once it has applied an entry
/// of its own term (the empty entry it appends when elected) and all that is committed; until then a lease granted
/// just before the change may not be known here yet.</summary>
public sealed class AppliedProgress
{
    /// <summary>etcd's applyTimeout for waitAppliedIndex.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(1);

    private readonly Lock gate = new();
    private ulong index;
    private ulong term;
    private TaskCompletionSource signal = NewSignal();
    private readonly TimeProvider clock;

    public AppliedProgress(ulong index = 0, ulong term = 0, TimeProvider? clock = null)
    {
        this.index = index;
        this.term = term;
        this.clock = clock ?? TimeProvider.System;
    }

    public ulong Index
    {
        get
        {
            lock (gate) return index;
        }
    }

    public ulong Term
    {
        get
        {
            lock (gate) return term;
        }
    }

    /// <summary>Called by the apply loop after it applied through <paramref name="appliedIndex"/> (an entry of
    /// <paramref name="appliedTerm"/>), or installed a snapshot. Never moves backwards.</summary>
    public void Advance(ulong appliedIndex, ulong appliedTerm)
    {
        TaskCompletionSource reached;
        lock (gate)
        {
            index = Math.Max(index, appliedIndex);
            term = Math.Max(term, appliedTerm);
            reached = signal;
            signal = NewSignal();
        }
        reached.TrySetResult();
    }

    /// <summary>Waits until this member has applied through <paramref name="committedIndex"/> and an entry of
    /// <paramref name="leaderTerm"/>; throws etcd's "waiting for the applied index took too long" after
    /// <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(ulong committedIndex, ulong leaderTerm, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        while (true)
        {
            Task next;
            lock (gate)
            {
                if (index >= committedIndex && term >= leaderTerm) return;
                next = signal.Task;
            }
            var remaining = timeout - clock.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero) throw EtcdErrors.TimeoutWaitAppliedIndex.ToException();
            try
            {
                await next.WaitAsync(remaining, clock, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw EtcdErrors.TimeoutWaitAppliedIndex.ToException();
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
