using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace HttpKv.Server;

/// <summary>One entry of <c>--initial-cluster</c>: a member name and one of its peer URLs.</summary>
public sealed record InitialClusterMember(string Name, IReadOnlyList<string> PeerUrls);

/// <summary>
/// etcd's member and cluster IDs, computed as etcd's <c>membership.NewMember</c> and
/// <c>RaftCluster.genID</c> do when a cluster is bootstrapped.
/// </summary>
/// <remarks>
/// Member ID = first 8 bytes, big-endian, of SHA-1 over (the member's peer URLs sorted ordinally and
/// concatenated with no separator, followed by the cluster token).
/// Cluster ID = first 8 bytes, big-endian, of SHA-1 over the member IDs sorted ascending, each written
/// as 8 bytes big-endian.
/// Checked against etcd 3.4.23: no flags gives member 8e9e05c52164694d, cluster cdf818194e3a8c32.
/// </remarks>
public static class MemberIds
{
    /// <summary>The member ID of a member with these peer URLs in a cluster bootstrapped with <paramref name="clusterToken"/>.</summary>
    public static ulong ComputeMemberId(IEnumerable<string> peerUrls, string clusterToken)
    {
        var sorted = peerUrls.Order(StringComparer.Ordinal);
        var input = string.Concat(sorted) + clusterToken;
        return FirstEightBytesOfSha1(Encoding.UTF8.GetBytes(input));
    }

    /// <summary>The cluster ID of a cluster whose members have these IDs.</summary>
    public static ulong ComputeClusterId(IEnumerable<ulong> memberIds)
    {
        var sorted = memberIds.Order().ToArray();
        var input = new byte[sorted.Length * sizeof(ulong)];
        for (var position = 0; position < sorted.Length; position++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(input.AsSpan(position * sizeof(ulong)), sorted[position]);
        }
        return FirstEightBytesOfSha1(input);
    }

    /// <summary>The cluster ID of the cluster that <c>--initial-cluster</c> and <c>--initial-cluster-token</c> describe.</summary>
    public static ulong ComputeClusterId(IEnumerable<InitialClusterMember> members, string clusterToken) =>
        ComputeClusterId(members.Select(member => ComputeMemberId(member.PeerUrls, clusterToken)));

    /// <summary>
    /// Parses <c>--initial-cluster</c> (<c>name=url,name=url</c>). A name given more than once collects all
    /// its URLs into one member, as etcd's <c>types.NewURLsMap</c> does. Members keep first-appearance order.
    /// </summary>
    /// <exception cref="FormatException">An entry without '=' or with an empty name or URL.</exception>
    public static IReadOnlyList<InitialClusterMember> ParseInitialCluster(string initialCluster)
    {
        var urlsByName = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var entry in initialCluster.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == entry.Length - 1)
            {
                throw new FormatException($"initial cluster entry \"{entry}\" is not of the form name=url");
            }
            var name = entry[..equals];
            if (!urlsByName.TryGetValue(name, out var urls))
            {
                urls = [];
                urlsByName[name] = urls;
                order.Add(name);
            }
            urls.Add(entry[(equals + 1)..]);
        }
        return order.Select(name => new InitialClusterMember(name, urlsByName[name])).ToArray();
    }

    /// <summary>etcd's text form of an ID: lower-case hex without leading zeros (<c>types.ID.String</c>).</summary>
    public static string ToHex(ulong id) => id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    private static ulong FirstEightBytesOfSha1(byte[] input)
    {
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input, hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}
