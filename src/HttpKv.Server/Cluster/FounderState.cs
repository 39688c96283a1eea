using HttpKv.Mvcc;
using HttpKv.Raft;
using HttpKv.Storage.Wal;
using EtcdMember = Etcdserverpb.Member;

namespace HttpKv.Server.Cluster;

/// <summary>What a founding member of a new cluster starts from, shared by the two ways one is made: a member
/// started on an empty data dir with --initial-cluster-state new (<see cref="ClusterBootstrap"/>), and
/// <c>httpkv snapshot restore</c>, which prepares a data dir holding a saved backend. Every founder of one cluster
/// writes the same members and configuration, so each starts as a voter of the same cluster.</summary>
public static class FounderState
{
    /// <summary>The members --initial-cluster names (IDs from their peer URLs and the token), all voters; the member
    /// <paramref name="self"/> gets <paramref name="selfClientUrls"/> (the others publish theirs when they start).</summary>
    public static (Membership Membership, ConfState ConfState, ulong ClusterId) Describe(MemberOptions options, ulong self, IEnumerable<string> selfClientUrls)
    {
        var founders = MemberIdentities.InitialMembers(options);
        var membership = new Membership();
        foreach (var (id, name, peerUrls) in founders)
        {
            var member = new EtcdMember { ID = id, Name = name };
            member.PeerURLs.AddRange(peerUrls);
            if (id == self) member.ClientURLs.AddRange(selfClientUrls);
            membership.Add(member);
        }
        var ids = founders.Select(founder => founder.Id).ToList();
        return (membership, new ConfState([.. ids], []), MemberIds.ComputeClusterId(ids));
    }

    /// <summary>Writes the founder's state: in the backend, Raft term 1, the configuration, the members and the cluster
    /// ID at its consistent index (1 for an empty backend; a restored backend keeps its own, so that its data counts as
    /// applied); in the WAL, a snapshot marker at that index and the hard state (term 1, committed up to it). The member
    /// then starts as one restarting from that point, its Raft log beginning after the index.</summary>
    public static async Task WriteAsync(MvccStore store, WriteAheadLog wal, Membership membership, ConfState confState, ulong clusterId)
    {
        var index = Math.Max(store.ConsistentIndex, 1);
        using (var batch = store.BeginApply())
        {
            if (index > batch.ConsistentIndex) batch.MarkApplied(index);
            batch.SetMeta(BackendMeta.RaftTerm, BackendMeta.Number(1));
            batch.SetMeta(BackendMeta.ConfState, ConfStateCodec.Encode(confState));
            batch.SetMeta(BackendMeta.Members, membership.Encode());
            batch.SetMeta(BackendMeta.ClusterId, BackendMeta.Number(clusterId));
            batch.Commit();
        }
        store.Sync();
        await wal.AppendAsync(new WalSnapshot(index, 1), [], new HardState(1, 0, index));
    }
}
