namespace HttpKv.Robustness.Checking;

/// <summary>What a client asked of one key.</summary>
public enum OpKind
{
    Get,
    Put,
    Delete,
    /// <summary>A txn: if the key's value equals <see cref="Operation.Expected"/> (null: the key is absent) put
    /// <see cref="Operation.Value"/>.</summary>
    CompareAndSwap,
}

/// <summary>One recorded request: invoked at <see cref="Call"/>, answered at <see cref="Return"/> (both from one
/// monotonic clock), with its outcome. An operation whose answer never came (timeout, lost connection) has
/// <see cref="Unknown"/> set: it may or may not have taken effect, at any time after its call.</summary>
public sealed record Operation(int Id, int Client, OpKind Kind, string Key, long Call, long Return)
{
    public string? Value { get; init; }
    public string? Expected { get; init; }
    /// <summary>Get: the value read (null: absent).</summary>
    public string? Observed { get; init; }
    /// <summary>CompareAndSwap: whether it swapped. Delete: whether it deleted something. Put: always.</summary>
    public bool Succeeded { get; init; }
    public bool Unknown { get; init; }
    /// <summary>The revision of the response header (0 if unknown).</summary>
    public long Revision { get; init; }

    public override string ToString() => Kind switch
    {
        OpKind.Get => $"#{Id} c{Client} get({Key}) -> {Observed ?? "∅"}",
        OpKind.Put => $"#{Id} c{Client} put({Key}, {Value}){(Unknown ? " -> ?" : "")}",
        OpKind.Delete => $"#{Id} c{Client} delete({Key}){(Unknown ? " -> ?" : "")}",
        _ => $"#{Id} c{Client} cas({Key}, {Expected ?? "∅"} -> {Value}) -> {(Unknown ? "?" : Succeeded ? "ok" : "failed")}",
    } + $" [{Call}, {(Return == long.MaxValue ? "∞" : Return)}] rev {Revision}";
}
