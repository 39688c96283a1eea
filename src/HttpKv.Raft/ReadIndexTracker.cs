namespace HttpKv.Raft;

/// <summary>The leader's pending linearizable reads. Requests received between two Readys form one round: the
/// round is broadcast as a single heartbeat whose Context is the round number, and when a quorum of voters has
/// echoed a round ≥ r, every request of round ≤ r may be answered with the commit index it saw on arrival.</summary>
internal sealed class ReadIndexTracker
{
    internal sealed record Request(ulong Round, ulong Index, ulong From, ReadOnlyMemory<byte> Context);

    private readonly Queue<Request> requests = new();
    private readonly Dictionary<ulong, ulong> ackedRound = [];
    private ulong nextRound = 1;
    private bool roundWaiting;

    public int Pending => requests.Count;

    public void Reset()
    {
        requests.Clear();
        ackedRound.Clear();
        roundWaiting = false;
    }

    public void Add(ulong readIndex, ulong from, ReadOnlyMemory<byte> context)
    {
        requests.Enqueue(new Request(nextRound, readIndex, from, context));
        roundWaiting = true;
    }

    /// <summary>The round to broadcast now, if requests are waiting for one.</summary>
    public ulong? TakeRoundToSend()
    {
        if (!roundWaiting) return null;
        roundWaiting = false;
        return nextRound++;
    }

    public void Ack(ulong voter, ulong round)
    {
        if (!ackedRound.TryGetValue(voter, out var previous) || previous < round) ackedRound[voter] = round;
    }

    /// <summary>Removes and returns the requests whose round a quorum has confirmed.</summary>
    public List<Request> Release(ProgressTracker tracker)
    {
        var confirmed = tracker.QuorumValue(tracker.Voters.Select(id => ackedRound.GetValueOrDefault(id)));
        var released = new List<Request>();
        while (requests.Count > 0 && requests.Peek().Round <= confirmed) released.Add(requests.Dequeue());
        return released;
    }

    public static ReadOnlyMemory<byte> EncodeRound(ulong round)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, round);
        return bytes;
    }

    public static ulong? DecodeRound(ReadOnlyMemory<byte> context) =>
        context.Length == 8 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(context.Span) : null;
}
