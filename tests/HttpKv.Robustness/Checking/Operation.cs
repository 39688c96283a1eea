namespace HttpKv.Robustness.Checking;

/// <summary>What a client asked.</summary>
public enum OpKind
{
    Get,
    Put,
    Delete,
    /// <summary>A txn: if the key's value equals <see cref="Operation.Expected"/> (null: the key is absent) put
    /// <see cref="Operation.Value"/>.</summary>
    CompareAndSwap,
    /// <summary>A multi-key txn: if <see cref="Operation.Key"/> holds <see cref="Operation.Expected"/> (compared by
    /// value or by the mod_revision the client saw with that value: every value is written once, so the two are the
    /// same condition), apply every one of <see cref="Operation.Writes"/> at one revision.</summary>
    Txn,
    /// <summary>A linearizable range over a group's keys: <see cref="Operation.Read"/> is every key it returned.</summary>
    Range,
    /// <summary>Grants the lease <see cref="Operation.Lease"/> (the client chose its ID).</summary>
    LeaseGrant,
    /// <summary>A put attached to <see cref="Operation.Lease"/>; fails (<see cref="Operation.Succeeded"/> false) with
    /// "requested lease not found" when the lease is gone.</summary>
    LeasePut,
    /// <summary>Revokes <see cref="Operation.Lease"/>: every key attached to it is deleted at one revision. Failed: the
    /// lease was not found.</summary>
    LeaseRevoke,
    /// <summary>One keep-alive: <see cref="Operation.Succeeded"/> is whether the leader answered a TTL above 0 (the lease
    /// exists).</summary>
    LeaseKeepAlive,
}

/// <summary>One recorded request: invoked at <see cref="Call"/>, answered at <see cref="Return"/> (both from one
/// monotonic clock), with its outcome. An operation whose answer never came (timeout, lost connection) has
/// <see cref="Unknown"/> set: it may or may not have taken effect, at any time after its call.</summary>
public sealed record Operation(int Id, int Client, OpKind Kind, string Key, long Call, long Return)
{
    /// <summary>The part of the key space the linearizability model judges this operation in, apart from every other
    /// part: a plain key, a txn group's keys, or a lease and its keys. Null: the key alone.</summary>
    public string? Partition { get; init; }
    public string PartitionKey => Partition ?? Key;
    public string? Value { get; init; }
    public string? Expected { get; init; }
    /// <summary>Get: the value read (null: absent).</summary>
    public string? Observed { get; init; }
    /// <summary>Txn: the keys it writes (Value null: a delete).</summary>
    public IReadOnlyList<KeyValuePair<string, string?>>? Writes { get; init; }
    /// <summary>Range: every key it returned, with its value.</summary>
    public IReadOnlyDictionary<string, string>? Read { get; init; }
    /// <summary>The lease a lease operation (or a leased put) is about.</summary>
    public long Lease { get; init; }
    /// <summary>CompareAndSwap/Txn: whether it swapped. Delete: whether it deleted something. Put: always. Lease
    /// operations: whether the lease was found.</summary>
    public bool Succeeded { get; init; }
    public bool Unknown { get; init; }
    /// <summary>The revision of the response header (0 if unknown).</summary>
    public long Revision { get; init; }

    public override string ToString() => Kind switch
    {
        OpKind.Get => $"#{Id} c{Client} get({Key}) -> {Observed ?? "∅"}",
        OpKind.Put => $"#{Id} c{Client} put({Key}, {Value}){(Unknown ? " -> ?" : "")}",
        OpKind.Delete => $"#{Id} c{Client} delete({Key}){(Unknown ? " -> ?" : "")}",
        OpKind.CompareAndSwap => $"#{Id} c{Client} cas({Key}, {Expected ?? "∅"} -> {Value}) -> {Outcome}",
        OpKind.Txn => $"#{Id} c{Client} txn({Key} = {Expected ?? "∅"} ? {string.Join(", ", (Writes ?? []).Select(w => $"{w.Key}={w.Value ?? "∅"}"))}) -> {Outcome}",
        OpKind.Range => $"#{Id} c{Client} range({Key}) -> {{{string.Join(", ", (Read ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}}}",
        OpKind.LeaseGrant => $"#{Id} c{Client} grant({Lease:x}){(Unknown ? " -> ?" : "")}",
        OpKind.LeasePut => $"#{Id} c{Client} put({Key}, {Value}, lease {Lease:x}) -> {(Unknown ? "?" : Succeeded ? "ok" : "lease not found")}",
        OpKind.LeaseRevoke => $"#{Id} c{Client} revoke({Lease:x}) -> {(Unknown ? "?" : Succeeded ? "ok" : "lease not found")}",
        _ => $"#{Id} c{Client} keepalive({Lease:x}) -> {(Succeeded ? "alive" : "TTL 0")}",
    } + $" [{Call}, {(Return == long.MaxValue ? "∞" : Return)}] rev {Revision}";

    private string Outcome => Unknown ? "?" : Succeeded ? "ok" : "failed";
}
