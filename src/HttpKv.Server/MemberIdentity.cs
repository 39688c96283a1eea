namespace HttpKv.Server;

/// <summary>Who this member is: etcd-compatible IDs, computed by the host from the peer URLs and cluster token.</summary>
public sealed record MemberIdentity(ulong ClusterId, ulong MemberId, string Name, IReadOnlyList<string> PeerUrls, IReadOnlyList<string> ClientUrls);
