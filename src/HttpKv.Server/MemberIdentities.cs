namespace HttpKv.Server;

/// <summary>The member's and cluster's IDs from the flags, computed as etcd computes them.</summary>
public static class MemberIdentities
{
    public static MemberIdentity FromOptions(MemberOptions options)
    {
        var initialCluster = string.IsNullOrEmpty(options.InitialCluster)
            ? $"{options.Name}={options.InitialAdvertisePeerUrls}"
            : options.InitialCluster;
        var members = MemberIds.ParseInitialCluster(initialCluster).ToList();
        var ids = members.Select(member => MemberIds.ComputeMemberId(member.PeerUrls, options.InitialClusterToken)).ToList();
        var self = members.FindIndex(member => member.Name == options.Name);
        if (self < 0) throw new ArgumentException($"couldn't find local name \"{options.Name}\" in the initial cluster configuration");
        return new MemberIdentity(MemberIds.ComputeClusterId(ids), ids[self], options.Name,
            members[self].PeerUrls, MemberOptions.SplitUrls(options.AdvertiseClientUrls));
    }
}
