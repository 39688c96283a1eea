using System.Buffers.Binary;
using HttpKv.Raft;

namespace HttpKv.Server.Cluster;

/// <summary>A Raft <see cref="ConfState"/> as the backend keeps it (<see cref="BackendMeta.ConfState"/>): voter count
/// and learner count (i32), then the voters' and learners' IDs (u64), all big-endian as every number in the backend.</summary>
public static class ConfStateCodec
{
    public static byte[] Encode(ConfState state)
    {
        var bytes = new byte[8 + 8 * (state.Voters.Count + state.Learners.Count)];
        BinaryPrimitives.WriteInt32BigEndian(bytes, state.Voters.Count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), state.Learners.Count);
        var offset = 8;
        foreach (var id in state.Voters.Concat(state.Learners))
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(offset), id);
            offset += 8;
        }
        return bytes;
    }

    public static ConfState Decode(byte[]? bytes) => Decode(bytes, bigEndian: true);

    /// <summary>A configuration written by a backend of format 1, whose numbers were little-endian.</summary>
    public static ConfState DecodeLittleEndian(byte[]? bytes) => Decode(bytes, bigEndian: false);

    private static ConfState Decode(byte[]? bytes, bool bigEndian)
    {
        if (bytes is null || bytes.Length < 8) return ConfState.Empty;
        int Count(int at) => bigEndian ? BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at)) : BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
        var (voters, learners) = (Count(0), Count(4));
        if (voters < 0 || learners < 0 || bytes.Length != 8 + 8L * (voters + learners))
        {
            throw new InvalidOperationException($"the backend's Raft configuration is damaged: {bytes.Length} bytes for {voters} voters and {learners} learners");
        }
        var ids = Enumerable.Range(0, voters + learners)
            .Select(i => bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(8 + 8 * i)) : BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8 + 8 * i)))
            .ToList();
        return new ConfState(ids[..voters], ids[voters..]);
    }
}
