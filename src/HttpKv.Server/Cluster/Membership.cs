using Google.Protobuf;
using HttpKv.Protocol.Internal;
using EtcdMember = Etcdserverpb.Member;

namespace HttpKv.Server.Cluster;

/// <summary>The members of the cluster as the applied log defines them: IDs, names, peer and client URLs, learner
/// flags, and the IDs removed (which may never rejoin). Changed only by the apply loop; read by anyone through
/// <see cref="Snapshot"/>, an immutable copy.</summary>
public sealed class Membership
{

    private readonly Dictionary<ulong, EtcdMember> members = [];
    private readonly HashSet<ulong> removed = [];
    private volatile IReadOnlyList<EtcdMember> snapshot = [];
    private volatile IReadOnlySet<ulong> removedSnapshot = new HashSet<ulong>();

    public IReadOnlyList<EtcdMember> Snapshot => snapshot;

    public EtcdMember? Find(ulong id)
    {
        var members = snapshot; // indexed, not enumerated: the learner check reads this on every call
        for (var i = 0; i < members.Count; i++)
        {
            if (members[i].ID == id) return members[i];
        }
        return null;
    }

    /// <summary>Whether <paramref name="id"/> was removed from the cluster (safe from any thread).</summary>
    public bool IsRemoved(ulong id) => removedSnapshot.Contains(id);

    public static Membership Decode(byte[]? bytes)
    {
        var membership = new Membership();
        membership.Restore(bytes);
        return membership;
    }

    /// <summary>Replaces the list with the one <paramref name="bytes"/> encode (a backend installed from a snapshot).
    /// On the apply loop only, as every change.</summary>
    public void Restore(byte[]? bytes)
    {
        members.Clear();
        removed.Clear();
        if (bytes is not null)
        {
            var set = MemberSet.Parser.ParseFrom(bytes);
            foreach (var member in set.Members) members[member.ID] = member;
            removed.UnionWith(set.Removed);
        }
        Publish();
    }

    public byte[] Encode()
    {
        var set = new MemberSet();
        set.Members.AddRange(members.Values.OrderBy(member => member.ID));
        set.Removed.AddRange(removed.Order());
        return set.ToByteArray();
    }

    public void Add(EtcdMember member)
    {
        members[member.ID] = member.Clone();
        Publish();
    }

    public void Remove(ulong id)
    {
        members.Remove(id);
        removed.Add(id);
        Publish();
    }

    public void Promote(ulong id)
    {
        if (members.TryGetValue(id, out var member)) member.IsLearner = false;
        Publish();
    }

    /// <summary>A member's own name and client URLs, as it published them.</summary>
    public void SetAttributes(EtcdMember attributes)
    {
        if (!members.TryGetValue(attributes.ID, out var member)) return;
        member.Name = attributes.Name;
        member.ClientURLs.Clear();
        member.ClientURLs.AddRange(attributes.ClientURLs);
        Publish();
    }

    public void UpdatePeerUrls(ulong id, IEnumerable<string> peerUrls)
    {
        if (!members.TryGetValue(id, out var member)) return;
        member.PeerURLs.Clear();
        member.PeerURLs.AddRange(peerUrls);
        Publish();
    }

    private void Publish()
    {
        snapshot = members.Values.OrderBy(member => member.ID).Select(member => member.Clone()).ToList();
        removedSnapshot = new HashSet<ulong>(removed);
    }
}
