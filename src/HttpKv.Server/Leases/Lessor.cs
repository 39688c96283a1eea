using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Leases;

/// <summary>A member's leases (etcd's lessor): every lease with its TTL and attached keys, as applied from the log
/// and persisted in the backend's meta bucket (one <see cref="LeaseRecord"/> per lease; the attachments are
/// rebuilt from the keys' own lease field). Only the primary (the leader) tracks deadlines: a follower's leases
/// never expire locally, and the leader proposes a revoke for each lease it finds expired (<see cref="Expired"/>).
/// A member that becomes leader extends every lease from now (<see cref="Promote"/>), as etcd's Promote does.
/// Apply-side methods run on the apply loop; the others may run on any thread.</summary>
public sealed class Lessor : ILeaseTracker
{
    /// <summary>etcd's MaxLeaseTTL: 9,000,000,000 seconds.</summary>
    public const long MaxTtl = 9_000_000_000;

    private readonly Lock gate = new();
    private readonly TimeProvider clock;
    private readonly Dictionary<long, Lease> leases = [];
    private readonly Dictionary<ByteString, long> keyLeases = [];
    private bool primary;

    /// <param name="minTtl">etcd's minimum TTL, rounded up to whole seconds (see <see cref="MinTtlFor"/>).</param>
    public Lessor(long minTtl, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        MinTtl = Math.Max(1, minTtl);
        this.clock = clock;
    }

    /// <summary>etcd's minLeaseTTL: (3 × election ticks / 2) heartbeats, in seconds rounded up (2 s with the defaults).</summary>
    public static long MinTtlFor(int electionTicks, TimeSpan heartbeat) =>
        (long)Math.Ceiling((3 * electionTicks / 2) * heartbeat.TotalSeconds);

    public long MinTtl { get; }

    public bool IsPrimary
    {
        get { lock (gate) return primary; }
    }

    private sealed class Lease(long id, long ttl)
    {
        public long Id { get; } = id;
        public long Ttl { get; } = ttl;
        /// <summary>The remaining TTL of the last checkpoint, in seconds; 0: none (a new leader gives the whole TTL).</summary>
        public long RemainingTtl { get; set; }
        /// <summary>A <see cref="TimeProvider.GetTimestamp"/> value; long.MaxValue: never (on a follower).</summary>
        public long ExpiresAt { get; set; } = long.MaxValue;
        public HashSet<ByteString> Keys { get; } = [];
    }

    private static string MetaName(long id) => BackendMeta.LeasePrefix + id.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private long Now => clock.GetTimestamp();

    private long After(TimeSpan span) =>
        span.TotalSeconds >= long.MaxValue / (double)clock.TimestampFrequency / 2 ? long.MaxValue : Now + (long)(span.TotalSeconds * clock.TimestampFrequency);

    // ---- apply side (the apply loop) ----

    /// <summary>Applies a grant: the lease exists from this entry on. Returns the response, or an EtcdException.</summary>
    public object ApplyGrant(ApplyBatch batch, ulong index, LeaseGrantRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        batch.MarkApplied(index);
        lock (gate)
        {
            if (request.ID == 0 || leases.ContainsKey(request.ID)) return EtcdErrors.LeaseExists.ToException();
            var lease = new Lease(request.ID, request.TTL);
            if (primary) lease.ExpiresAt = After(TimeSpan.FromSeconds(lease.Ttl));
            leases.Add(lease.Id, lease);
        }
        batch.SetMeta(MetaName(request.ID), new LeaseRecord { Id = request.ID, Ttl = request.TTL }.ToByteArray());
        Metrics.ServerMetrics.LeasesGranted.Inc();
        Metrics.ServerMetrics.LeaseTtl.Observe(request.TTL);
        return new LeaseGrantResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision }, ID = request.ID, TTL = request.TTL };
    }

    /// <summary>Applies a revoke: every attached key is deleted in one revision, then the lease is forgotten.</summary>
    public object ApplyRevoke(ApplyBatch batch, ulong index, LeaseRevokeRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        List<ByteString> keys;
        lock (gate)
        {
            if (!leases.TryGetValue(request.ID, out var lease))
            {
                batch.MarkApplied(index);
                return EtcdErrors.LeaseNotFound.ToException();
            }
            keys = [.. lease.Keys];
        }
        keys.Sort((left, right) => left.Span.SequenceCompareTo(right.Span));
        var revision = batch.DeleteKeys(index, keys);
        lock (gate)
        {
            if (leases.Remove(request.ID, out var lease))
            {
                foreach (var key in lease.Keys) keyLeases.Remove(key);
            }
        }
        batch.DeleteMeta(MetaName(request.ID));
        Metrics.ServerMetrics.LeasesRevoked.Inc();
        return new LeaseRevokeResponse { Header = new ResponseHeader { Revision = revision } };
    }

    /// <summary>Applies a lease checkpoint (etcd's): each lease's remaining TTL as the leader saw it, which a next
    /// leader starts from instead of the whole TTL (0 clears it). Deadlines on this member do not change. Leases that
    /// no longer exist are skipped.</summary>
    public object ApplyCheckpoint(ApplyBatch batch, ulong index, LeaseCheckpointRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        batch.MarkApplied(index);
        lock (gate)
        {
            foreach (var checkpoint in request.Checkpoints)
            {
                if (leases.TryGetValue(checkpoint.ID, out var lease)) lease.RemainingTtl = Math.Max(0, checkpoint.RemainingTTL);
            }
        }
        return new LeaseCheckpointResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
    }

    public bool Exists(long lease)
    {
        lock (gate) return leases.ContainsKey(lease);
    }

    public void OnPut(ByteString key, long lease)
    {
        lock (gate)
        {
            Detach(key);
            if (lease != 0 && leases.TryGetValue(lease, out var attached))
            {
                attached.Keys.Add(key);
                keyLeases[key] = lease;
            }
        }
    }

    public void OnDelete(ByteString key)
    {
        lock (gate) Detach(key);
    }

    private void Detach(ByteString key)
    {
        if (keyLeases.Remove(key, out var old) && leases.TryGetValue(old, out var lease)) lease.Keys.Remove(key);
    }

    /// <summary>Rebuilds every lease from <paramref name="store"/>: at start and after a snapshot is installed.</summary>
    public void Restore(MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var records = store.ReadMetaPrefix(BackendMeta.LeasePrefix).Select(entry => LeaseRecord.Parser.ParseFrom(entry.Value)).ToList();
        var all = store.Range(new RangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) });
        lock (gate)
        {
            leases.Clear();
            keyLeases.Clear();
            foreach (var record in records)
            {
                var lease = new Lease(record.Id, record.Ttl);
                if (primary) lease.ExpiresAt = After(TimeSpan.FromSeconds(lease.Ttl));
                leases[lease.Id] = lease;
            }
            foreach (var kv in all.Kvs)
            {
                if (kv.Lease == 0 || !leases.TryGetValue(kv.Lease, out var lease)) continue;
                lease.Keys.Add(kv.Key);
                keyLeases[kv.Key] = kv.Lease;
            }
        }
    }

    // ---- leadership ----

    /// <summary>This member became leader: every lease runs from now its remaining TTL of the last checkpoint, or
    /// else its whole TTL, plus <paramref name="extend"/> (etcd extends by the election timeout), so no lease expires
    /// just because leadership moved.</summary>
    public void Promote(TimeSpan extend)
    {
        lock (gate)
        {
            primary = true;
            foreach (var lease in leases.Values)
                lease.ExpiresAt = After(extend + TimeSpan.FromSeconds(lease.RemainingTtl > 0 ? lease.RemainingTtl : lease.Ttl));
        }
    }

    /// <summary>This member is no longer leader: its leases never expire here.</summary>
    public void Demote()
    {
        lock (gate)
        {
            primary = false;
            foreach (var lease in leases.Values) lease.ExpiresAt = long.MaxValue;
        }
    }

    // ---- client side ----

    /// <summary>A keep-alive on the primary: the lease runs its full TTL from now. Returns the TTL, or 0 when the
    /// lease does not exist or has already expired (its revoke is on its way), as etcd answers; and whether the lease
    /// has a checkpointed remaining TTL, which the caller must then clear through the log (a checkpoint of 0, as
    /// etcd's Renew does) lest a next leader start it from the old remaining TTL.</summary>
    public (long Ttl, bool ClearCheckpoint) Renew(long id)
    {
        lock (gate)
        {
            if (!primary) throw EtcdErrors.NotLeader.ToException();
            if (!leases.TryGetValue(id, out var lease) || lease.ExpiresAt <= Now) return (0, false);
            lease.ExpiresAt = After(TimeSpan.FromSeconds(lease.Ttl));
            Metrics.ServerMetrics.LeasesRenewed.Inc();
            return (lease.Ttl, lease.RemainingTtl > 0);
        }
    }

    /// <summary>On the primary: the remaining TTL (whole seconds, rounded up) of every lease whose TTL is longer than
    /// <paramref name="interval"/>, for a checkpoint (etcd checkpoints only those). Shorter ones never matter: they
    /// are renewed or expire before a checkpoint would be taken.</summary>
    public IReadOnlyList<LeaseCheckpoint> Checkpoints(TimeSpan interval)
    {
        lock (gate)
        {
            if (!primary) return [];
            var now = Now;
            return [.. leases.Values
                .Where(lease => lease.Ttl > interval.TotalSeconds && lease.ExpiresAt != long.MaxValue && lease.ExpiresAt > now)
                .Select(lease => new LeaseCheckpoint
                {
                    ID = lease.Id,
                    RemainingTTL = (lease.ExpiresAt - now + clock.TimestampFrequency - 1) / clock.TimestampFrequency,
                })];
        }
    }

    /// <summary>The remaining and granted TTL of a lease (whole seconds, rounded down as etcd), or null if it does not
    /// exist. A follower does not track deadlines and answers the granted TTL as remaining.</summary>
    public LeaseTimeToLiveResponse? TimeToLive(long id, bool withKeys)
    {
        lock (gate)
        {
            if (!leases.TryGetValue(id, out var lease)) return null;
            var remaining = lease.ExpiresAt == long.MaxValue
                ? lease.Ttl
                : Math.Max(0, (lease.ExpiresAt - Now) / clock.TimestampFrequency);
            var response = new LeaseTimeToLiveResponse { ID = id, TTL = remaining, GrantedTTL = lease.Ttl };
            if (withKeys) response.Keys.AddRange(lease.Keys.OrderBy(key => key, ByteStringComparer.Instance));
            return response;
        }
    }

    /// <summary>The keys attached to a lease (none if it does not exist).</summary>
    public IReadOnlyList<ByteString> Keys(long id)
    {
        lock (gate) return leases.TryGetValue(id, out var lease) ? [.. lease.Keys] : [];
    }

    public IReadOnlyList<long> Ids()
    {
        lock (gate) return [.. leases.Keys.Order()];
    }

    /// <summary>On the primary: up to <paramref name="max"/> leases past their deadline, for the leader to revoke.</summary>
    public IReadOnlyList<long> Expired(int max)
    {
        lock (gate)
        {
            if (!primary) return [];
            var now = Now;
            return [.. leases.Values.Where(lease => lease.ExpiresAt <= now).Take(max).Select(lease => lease.Id)];
        }
    }

    private sealed class ByteStringComparer : IComparer<ByteString>
    {
        public static readonly ByteStringComparer Instance = new();
        public int Compare(ByteString? x, ByteString? y) => x!.Span.SequenceCompareTo(y!.Span);
    }
}
