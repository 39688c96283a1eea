using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;
using HttpKv.Server.Apply;
using HttpKv.Server.Leases;
using HttpKv.Server.Peers;
using HttpKv.Storage.Wal;
using Microsoft.Extensions.Logging;

using HttpKv.Server.Watch;

namespace HttpKv.Server.Cluster;

/// <summary>The settings of a member's Raft log.</summary>
public sealed record ClusterLogOptions
{
    public required ulong MemberId { get; init; }
    public required ulong ClusterId { get; init; }
    public required string SnapshotDirectory { get; init; }
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(100);
    public int ElectionTicks { get; init; } = 10;
    public ulong SnapshotCount { get; init; } = 100_000;
    /// <summary>Entries kept in the Raft log behind a snapshot (etcd's --experimental-snapshot-catchup-entries).</summary>
    public ulong SnapshotCatchUpEntries { get; init; } = 5000;
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(7);
    /// <summary>An entry's apply slower than this counts in etcd_server_slow_apply_total (--warning-apply-duration).</summary>
    public TimeSpan WarningApplyDuration { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>The member's clock: Raft's ticks, request deadlines and the applied-index wait run on it.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>The replicated log of a member: a Raft node (<see cref="RawNode"/>) driven by one loop that owns it.
///
/// Everything that touches the node — proposals, messages from peers, ticks, read-index requests — is a command
/// run on that loop. After each round of commands the loop handles the node's Ready in the order its contract
/// demands: persist (WAL append + fdatasync, then the in-memory Raft storage), send, apply committed entries to the
/// MVCC store (skipping any the backend already holds), answer reads, advance. A write's caller waits for its entry
/// to be applied on this member; a linearizable read waits for a read index confirmed by a quorum and applied here.</summary>
public sealed partial class ClusterLog : IAsyncDisposable
{
    private const int MaxQueuedCommands = 16_384;
    private const int MaxCommandsPerRound = 4096;

    private readonly RawNode node;
    private readonly MemoryStorage storage;
    private readonly WriteAheadLog wal;
    private readonly StoreSlot stores;
    private readonly PeerTransport transport;
    private readonly Membership membership;
    /// <summary>The member's domains, which the apply loop changes (<see cref="applier"/>) and restores from a snapshot.</summary>
    private readonly MemberDomains domains;
    private WatchHub Watches => domains.Watches;
    private Lessor Lessor => domains.Leases;
    /// <summary>The chain every committed request goes through (alarm gate, auth-revision gate, its domain).</summary>
    private readonly IApplier applier;
    private readonly MembershipApplier membershipApplier;
    private readonly ClusterLogOptions options;
    private readonly ILogger logger;
    /// <summary>The loop's commands: an <see cref="Action"/>, or an <see cref="IWaiter"/> whose request to propose (a
    /// write's own object, so that proposing allocates no delegate).</summary>
    private readonly Channel<object> commands = Channel.CreateBounded<object>(
        new BoundedChannelOptions(MaxQueuedCommands) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly ConcurrentDictionary<ulong, IWaiter> waiters = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;
    private readonly Task ticker;
    private TaskCompletionSource appliedSignal = NewSignal();
    private ulong appliedIndex;
    private ulong snapshotIndex;
    private ulong nextRequestId;
    private volatile bool stopped;

    internal ClusterLog(RawNode node, MemoryStorage storage, WriteAheadLog wal, StoreSlot stores, PeerTransport transport,
        Membership membership, ClusterLogOptions options, ulong appliedIndex, MemberDomains domains, ILogger logger)
    {
        this.domains = domains;
        this.node = node;
        this.storage = storage;
        this.wal = wal;
        this.stores = stores;
        this.transport = transport;
        this.membership = membership;
        this.options = options;
        this.logger = logger;
        membershipApplier = new MembershipApplier(membership, transport, options.MemberId, () => RemovedFromCluster?.Invoke());
        applier = Appliers.Chain(domains.Alarms, domains.Auth, domains.Leases, membershipApplier, logger);
        this.appliedIndex = snapshotIndex = appliedIndex;
        // Request IDs unique in the cluster, as etcd's: the member's low 16 bits, then a time-seeded counter.
        nextRequestId = (options.MemberId & 0xFFFF) << 48 | (ulong)options.Clock.GetUtcNow().UtcTicks >> 8 & 0xFF_FFFF_FFFF;
        Applied = new AppliedProgress(clock: options.Clock);
        loop = Task.Run(RunLoopAsync);
        ticker = Task.Run(RunTickerAsync);
    }

    public ulong Term => Volatile.Read(ref currentTerm);
    public ulong CommittedIndex => Volatile.Read(ref committedIndex);
    public ulong AppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary>The applied index with its entry's term, to wait on (etcd's waitAppliedIndex).</summary>
    internal AppliedProgress Applied { get; }

    /// <summary>etcd's waitAppliedIndex, which a leader runs before renewing a lease or reading its TTL: waits until
    /// this member has applied everything committed and an entry of its current term (so every lease granted under
    /// an earlier leader is known here); after <see cref="AppliedProgress.DefaultTimeout"/> it fails with etcd's
    /// "etcdserver: request timed out, waiting for the applied index took too long".</summary>
    public Task WaitForAppliedCommitAsync(CancellationToken cancellationToken) =>
        Applied.WaitAsync(CommittedIndex, Term, AppliedProgress.DefaultTimeout, cancellationToken);
    public ulong Leader => Volatile.Read(ref leader);
    public bool IsLeader => Leader == options.MemberId;
    public IReadOnlyList<Etcdserverpb.Member> Members => membership.Snapshot;
    public ulong MemberId => options.MemberId;
    public ulong ClusterId => options.ClusterId;

    /// <summary>A new lease ID, unique in the cluster as a request ID (and positive, as etcd's).</summary>
    public long NewLeaseId()
    {
        long id;
        do id = (long)(NextRequestId() & long.MaxValue); while (id == 0);
        return id;
    }

    /// <summary>The election timeout: what a new leader adds to every lease's TTL.</summary>
    public TimeSpan ElectionTimeout => options.TickInterval * options.ElectionTicks;

    private ulong currentTerm;
    private ulong committedIndex;
    private ulong leader;

    private ulong NextRequestId() => Interlocked.Increment(ref nextRequestId);

    /// <summary>Runs <paramref name="command"/> on the loop; false when the member is stopping.</summary>
    private bool Post(Action command) => !stopped && commands.Writer.TryWrite(command);

    private void Run(object command)
    {
        if (command is IWaiter waiter) Propose(waiter);
        else ((Action)command)();
    }

    /// <summary>A request proposed here, waiting for its entry to be applied on this member, for its deadline or for
    /// its caller to give up (the ticker watches both: one timer for all of them rather than a timer and a
    /// cancellation registration per request). Whoever answers it first takes it out of <see cref="waiters"/>, so it
    /// is answered once. Its continuation (the response) runs on the thread that completes it, so the loop and the
    /// ticker never complete one themselves: they hand it to <see cref="Answers"/>.</summary>
    private interface IWaiter
    {
        ulong Id { get; }
        /// <summary>A timestamp of the member's clock (<see cref="ClusterLogOptions.Clock"/>).</summary>
        long Deadline { get; }
        /// <summary>The caller's token: once cancelled, the ticker answers the waiter as cancelled.</summary>
        CancellationToken Cancellation { get; }
        /// <summary>The encoded <see cref="Request"/> to propose, or null for a membership change.</summary>
        byte[]? Data { get; }
        /// <summary>The request <see cref="Data"/> was encoded from. Applying this member's own entry uses it rather
        /// than decoding the entry again; the proposer does not change it while it waits.</summary>
        LogRequest? Request { get; }
        ConfChange? Change { get; }
        bool IsCompleted { get; }
        /// <summary>Whether the caller is a client's request (its continuation writes the response), which may be
        /// answered on the loop when it is an apply batch's only answer (<see cref="Answers.SendOrRunAlone"/>);
        /// the member's own proposers (leases, alarms, membership) are always answered on the pool.</summary>
        bool MayAnswerOnLoop { get; }
        /// <summary>Completes the caller's task with the applied response, an <see cref="EtcdException"/> or an
        /// <see cref="OperationCanceledException"/>.</summary>
        void Complete(object result);
    }

    /// <summary>A waiter whose caller expects a <typeparamref name="T"/>: its task is the caller's, with no async
    /// frame between them. With <paramref name="headers"/>, a response's etcd header is filled on completion.</summary>
    private sealed class Waiter<T>(ulong id, long deadline, CancellationToken cancellation, bool countsFailures, ClusterLog? headers)
        : TaskCompletionSource<T>, IWaiter where T : class
    {
        public ulong Id => id;
        public long Deadline => deadline;
        public CancellationToken Cancellation => cancellation;
        public byte[]? Data { get; init; }
        public LogRequest? Request { get; init; }
        public ConfChange? Change { get; init; }
        public bool IsCompleted => Task.IsCompleted;
        public bool MayAnswerOnLoop => headers is not null;

        public void Complete(object result)
        {
            switch (result)
            {
                case T response:
                    if (headers is not null && response is Etcdserverpb.IHasResponseHeader answer) headers.FillHeader(answer);
                    TrySetResult(response);
                    break;
                case OperationCanceledException canceled:
                    TrySetCanceled(canceled.CancellationToken);
                    break;
                case EtcdException failure:
                    // etcd_server_proposals_failed_total counts requests, not membership changes
                    if (countsFailures && Metrics.ServerMetrics.IsProposalFailure(failure)) Metrics.ServerMetrics.ProposalsFailed.Inc();
                    TrySetException(failure);
                    break;
                default:
                    TrySetException(new InvalidOperationException($"request {id} was answered with a {result.GetType().Name}, not a {typeof(T).Name}"));
                    break;
            }
        }
    }

    /// <summary>etcd's response header, filled in place: the cluster and this member, the current term, and the
    /// revision apply gave it (the current one when it gave none).</summary>
    internal void FillHeader(Etcdserverpb.IHasResponseHeader response) =>
        FillHeader(response.Header ??= new Etcdserverpb.ResponseHeader { Revision = stores.Current.CurrentRevision });

    /// <summary>The cluster's and this member's ids and the current term, in <paramref name="header"/>.</summary>
    internal void FillHeader(Etcdserverpb.ResponseHeader header)
    {
        header.ClusterId = options.ClusterId;
        header.MemberId = options.MemberId;
        header.RaftTerm = Term;
    }

    private long NewDeadline() =>
        options.Clock.GetTimestamp() + (long)(options.RequestTimeout.TotalSeconds * options.Clock.TimestampFrequency);

    /// <summary>etcd's maxGapBetweenApplyAndCommitIndex: past this many committed entries not yet applied, new
    /// proposals are refused with "too many requests" instead of queueing behind an apply that cannot keep up.</summary>
    internal const ulong MaxCommittedNotApplied = 5000;

    public Task<IMessage> ProposeAsync(LogRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<IMessage>(request, cancellationToken, fillHeader: false);

    /// <summary>Proposes <paramref name="request"/> and completes with its applied response, a
    /// <typeparamref name="T"/> (with etcd's header filled when <paramref name="fillHeader"/>), or fails with the
    /// request's <see cref="EtcdException"/>. The task is the waiter's own.</summary>
    public Task<T> ProposeAsync<T>(LogRequest request, CancellationToken cancellationToken, bool fillHeader) where T : class, IMessage
    {
        if (CommittedIndex > AppliedIndex + MaxCommittedNotApplied)
        {
            Metrics.ServerMetrics.ProposalsFailed.Inc();
            return Task.FromException<T>(EtcdErrors.TooManyRequests.ToException());
        }
        request.Id = NextRequestId();
        var data = new byte[request.CalculateSize()];
        request.WriteTo(data);
        return Enqueue(new Waiter<T>(request.Id, NewDeadline(), cancellationToken, countsFailures: true, fillHeader ? this : null)
        {
            Data = data,
            Request = request,
        });
    }

    /// <summary>Requests proposed here and not yet applied (etcd's proposals_pending).</summary>
    public int PendingProposals => waiters.Count;

    /// <summary>Proposals of one round of commands, proposed together when the round ends (or when they reach
    /// <see cref="MaxProposalBatchBytes"/>): one Raft message, so one append per follower for all of them instead of
    /// one per request. Owned by the loop.</summary>
    private readonly List<ReadOnlyMemory<byte>> proposals = [];
    private readonly List<IWaiter> proposers = [];
    private int proposalBytes;
    private const int MaxProposalBatchBytes = 1 << 20;

    /// <summary>On the loop: a waiter's request joins the round's proposals; a membership change is proposed alone.
    /// A request whose caller stopped waiting (deadline passed, cancelled) before its turn is not proposed.</summary>
    private void Propose(IWaiter waiter)
    {
        if (waiter.IsCompleted) return;
        if (waiter.Data is not { } data)
        {
            try { node.ProposeConfChange(waiter.Change!); }
            catch (ProposalDroppedException) when (waiters.TryRemove(waiter.Id, out _)) { Answers.Send(waiter, EtcdErrors.NoLeader.ToException()); }
            return;
        }
        proposals.Add(data);
        proposers.Add(waiter);
        proposalBytes += data.Length;
        if (proposalBytes >= MaxProposalBatchBytes) ProposeQueued();
    }

    /// <summary>Proposes what <see cref="QueueProposal"/> gathered; on the loop.</summary>
    private void ProposeQueued()
    {
        if (proposals.Count == 0) return;
        try
        {
            node.Propose(proposals);
        }
        catch (ProposalDroppedException)
        {
            var answers = new Answers();
            foreach (var waiter in proposers)
            {
                if (waiters.TryRemove(waiter.Id, out _)) answers.Add(waiter, EtcdErrors.NoLeader.ToException());
            }
            answers.Send();
        }
        finally
        {
            proposals.Clear();
            proposers.Clear();
            proposalBytes = 0;
        }
    }

    /// <summary>Proposes a membership change about <paramref name="member"/> and waits for it to be applied here.</summary>
    public async Task<Etcdserverpb.MemberListResponse> ProposeConfChangeAsync(ConfChangeType type, Etcdserverpb.Member member, CancellationToken cancellationToken)
    {
        var id = NextRequestId();
        var context = new ConfChangeContext { Id = id, Member = member };
        var change = new ConfChange(type, member.ID, context.ToByteArray());
        return await Enqueue(new Waiter<Etcdserverpb.MemberListResponse>(id, NewDeadline(), cancellationToken, countsFailures: false, headers: null) { Change = change });
    }

    /// <summary>Asks the node (the leader) to hand leadership to <paramref name="transferee"/>; completes when this
    /// member sees it lead, or fails after the request timeout.</summary>
    public async Task TransferLeadershipAsync(ulong transferee, CancellationToken cancellationToken)
    {
        if (!Post(() => node.TransferLeader(transferee))) throw EtcdErrors.TooManyRequests.ToException();
        var started = options.Clock.GetTimestamp();
        while (Leader != transferee)
        {
            if (options.Clock.GetElapsedTime(started) > options.RequestTimeout) throw EtcdErrors.Timeout.ToException();
            await Task.Delay(options.TickInterval, options.Clock, cancellationToken);
        }
    }

    /// <summary>The Raft node's status (role, term, commit, per-follower progress on a leader), read on the loop.</summary>
    public Task<RaftStatus> GetStatusAsync()
    {
        var status = new TaskCompletionSource<RaftStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Post(() => status.TrySetResult(node.Status))) status.TrySetException(EtcdErrors.TooManyRequests.ToException());
        return status.Task;
    }

    /// <summary>Raised on the loop when the applied configuration removes this member: it must stop, as etcd's does.</summary>
    public event Action? RemovedFromCluster;

    /// <summary>Whether <paramref name="id"/> has been removed from the cluster (peers refuse its messages).</summary>
    public bool IsRemoved(ulong id) => membership.IsRemoved(id);

    /// <summary>A peer refused this member's messages because the cluster removed it (the removal may have been
    /// committed without this member hearing of it, as the leader stops sending to a removed member).</summary>
    internal void OnRemovedByPeer()
    {
        if (Interlocked.Exchange(ref removedByPeer, 1) == 0) RemovedFromCluster?.Invoke();
    }

    private int removedByPeer;

    /// <summary>Whether this member is a learner in the applied configuration.</summary>
    public bool IsLearner => membership.Find(options.MemberId)?.IsLearner == true;

    /// <summary>Hands <paramref name="waiter"/>'s proposal to the loop; its task completes when its entry is applied
    /// here, at its deadline or once its caller cancels (see <see cref="ExpireWaiters"/>).</summary>
    private Task<T> Enqueue<T>(Waiter<T> waiter) where T : class
    {
        waiters[waiter.Id] = waiter; // before the stopped check: a stop after it fails every waiter listed
        if (stopped || !commands.Writer.TryWrite(waiter))
        {
            if (waiters.TryRemove(waiter.Id, out _))
                waiter.Complete((stopped ? EtcdErrors.Stopped : EtcdErrors.TooManyRequests).ToException());
        }
        return waiter.Task;
    }

    /// <summary>Answers every waiter past its deadline with etcd's words for it ("no leader" when there is none, else
    /// "request timed out") and every waiter whose caller cancelled as cancelled. Runs on the ticker, not the loop.</summary>
    private void ExpireWaiters()
    {
        if (waiters.IsEmpty) return;
        var now = options.Clock.GetTimestamp();
        var answers = new Answers();
        foreach (var (id, waiter) in waiters)
        {
            object? failure = waiter.Cancellation.IsCancellationRequested ? new OperationCanceledException(waiter.Cancellation)
                : now >= waiter.Deadline ? (Leader == 0 ? EtcdErrors.NoLeader : EtcdErrors.Timeout).ToException()
                : null;
            if (failure is not null && waiters.TryRemove(id, out _)) answers.Add(waiter, failure);
        }
        answers.Send();
    }

    private async Task<T> WithTimeoutAsync<T>(Task<T> task, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(options.RequestTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw (Leader == 0 ? EtcdErrors.NoLeader : EtcdErrors.Timeout).ToException();
        }
    }

    /// <summary>A linearizable read's barrier: a read index confirmed by a quorum (concurrent reads share a round),
    /// then this member's applied index reaching it.</summary>
    public async Task WaitForReadIndexAsync(CancellationToken cancellationToken)
    {
        var readIndex = await WithTimeoutAsync(readRounds.JoinAsync(this), cancellationToken);
        while (AppliedIndex < readIndex)
        {
            var signal = Volatile.Read(ref appliedSignal);
            if (AppliedIndex >= readIndex) break;
            await signal.Task.WaitAsync(options.RequestTimeout, cancellationToken);
        }
    }

    private readonly ReadRounds readRounds = new();

    /// <summary>Concurrent reads wait on one read-index round; a read that arrives during a round joins the next.
    /// A round whose answer was lost (a dropped message, a leader that went away) is asked again, with a new
    /// context, by the first read that finds it older than <see cref="RetryAfter"/> (etcd retries after 500 ms).</summary>
    private sealed class ReadRounds
    {
        private static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(500);
        private readonly Lock gate = new();
        private TaskCompletionSource<ulong>? next;
        private bool inFlight;
        private ulong roundId;
        private long startedAt;

        public Task<ulong> JoinAsync(ClusterLog log)
        {
            lock (gate)
            {
                next ??= new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
                var task = next.Task;
                if (!inFlight) StartRound(log, next);
                else if (log.options.Clock.GetElapsedTime(startedAt) > RetryAfter)
                {
                    Metrics.ServerMetrics.SlowReadIndexes.Inc();
                    StartRound(log, current.Round);
                }
                return task;
            }
        }

        /// <summary>Asks for a read index for <paramref name="round"/>'s readers. Caller holds the gate.</summary>
        private void StartRound(ClusterLog log, TaskCompletionSource<ulong> round)
        {
            if (round == next) next = null;
            inFlight = true;
            startedAt = log.options.Clock.GetTimestamp();
            var id = ++roundId;
            var context = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(context, id);
            current = (id, round);
            var posted = log.Post(() =>
            {
                try { log.node.ReadIndex(context); }
                catch (ProposalDroppedException) { Finish(log, id, EtcdErrors.NoLeader.ToException()); }
            });
            if (!posted) Finish(log, id, EtcdErrors.TooManyRequests.ToException(), holdingGate: true);
        }

        private (ulong Id, TaskCompletionSource<ulong> Round) current;

        /// <summary>The answer to round <paramref name="id"/>: a read index, or an error.</summary>
        public void Complete(ClusterLog log, ReadOnlySpan<byte> context, ulong index)
        {
            if (context.Length != 8) return;
            Finish(log, BinaryPrimitives.ReadUInt64BigEndian(context), null, index: index);
        }

        /// <summary>Fails the round in flight (leadership lost, member stopping).</summary>
        public void Abort(ClusterLog log, Exception error)
        {
            lock (gate)
            {
                if (inFlight) Finish(log, current.Id, error, holdingGate: true);
            }
        }

        private void Finish(ClusterLog log, ulong id, Exception? error, bool holdingGate = false, ulong index = 0)
        {
            if (!holdingGate)
            {
                lock (gate) Finish(log, id, error, holdingGate: true, index: index);
                return;
            }
            if (!inFlight || current.Id != id) return;
            inFlight = false;
            if (error is null) current.Round.TrySetResult(index);
            else
            {
                Metrics.ServerMetrics.ReadIndexesFailed.Inc();
                current.Round.TrySetException(error);
            }
            if (next is not null) StartRound(log, next);
        }
    }

    private async Task RunTickerAsync()
    {
        using var timer = new PeriodicTimer(options.TickInterval, options.Clock);
        try
        {
            Action tick = node.Tick;
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                Post(tick);
                ExpireWaiters();
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
