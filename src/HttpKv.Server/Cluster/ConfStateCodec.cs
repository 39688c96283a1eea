using System.Buffers.Binary;
using HttpKv.Raft;

namespace HttpKv.Server.Cluster;

/// <summary>A Raft <see cref="ConfState"/> as the backend keeps it: voter count, learner count, then the IDs (u64 LE).</summary>
public static class ConfStateCodec
{
    public static byte[] Encode(ConfState state)
    {
        var bytes = new byte[8 + 8 * (state.Voters.Count + state.Learners.Count)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, state.Voters.Count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), state.Learners.Count);
        var offset = 8;
        foreach (var id in state.Voters.Concat(state.Learners))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), id);
            offset += 8;
        }
        return bytes;
    }

    public static ConfState Decode(byte[]? bytes)
    {
        if (bytes is null || bytes.Length < 8) return ConfState.Empty;
        var voters = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        var learners = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        var ids = Enumerable.Range(0, voters + learners)
            .Select(i => BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8 + 8 * i))).ToList();
        return new ConfState(ids[..voters], ids[voters..]);
    }
}
