namespace HttpKv.Server;

/// <summary>The member's and cluster's IDs from the flags, computed as etcd computes them.</summary>
public static class MemberIdentities
{
    public static MemberIdentity FromOptions(MemberOptions options)
    {
        var members = InitialMembers(options);
        var self = members.FirstOrDefault(member => member.Name == options.Name);
        if (self.PeerUrls is null) throw new ArgumentException($"couldn't find local name \"{options.Name}\" in the initial cluster configuration");
        return new MemberIdentity(MemberIds.ComputeClusterId(members.Select(member => member.Id)), self.Id, options.Name,
            self.PeerUrls, MemberOptions.SplitUrls(options.AdvertiseClientUrls));
    }

    /// <summary>The members named by --initial-cluster (by default this member alone), with etcd's IDs.</summary>
    public static IReadOnlyList<(ulong Id, string Name, IReadOnlyList<string> PeerUrls)> InitialMembers(MemberOptions options)
    {
        var initialCluster = string.IsNullOrEmpty(options.InitialCluster)
            ? $"{options.Name}={options.InitialAdvertisePeerUrls}"
            : options.InitialCluster;
        return MemberIds.ParseInitialCluster(initialCluster)
            .Select(member => (MemberIds.ComputeMemberId(member.PeerUrls, options.InitialClusterToken), member.Name, member.PeerUrls))
            .ToList();
    }
}
