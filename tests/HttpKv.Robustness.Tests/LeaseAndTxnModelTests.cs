using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Tests;

/// <summary>The linearizability model's leases (a revoke deletes the lease's keys at one point; a put with a lease that
/// is gone fails with "requested lease not found"; a keep-alive tells whether the lease exists) and multi-key txn
/// groups (a txn writes its keys at one point; a group range sees all of them or none).</summary>
public sealed class LeaseAndTxnModelTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private const long L = 7;
    private const string Lp = "lease 7";
    private int next;

    private Operation Grant(long call, long ret) => new(next++, 0, OpKind.LeaseGrant, Lp, call, ret) { Lease = L, Partition = Lp, Succeeded = true };

    private Operation LeasePut(string key, string value, bool found, long call, long ret) =>
        new(next++, 0, OpKind.LeasePut, key, call, ret) { Value = value, Lease = L, Partition = Lp, Succeeded = found };

    private Operation Revoke(bool found, long call, long ret) => new(next++, 1, OpKind.LeaseRevoke, Lp, call, ret) { Lease = L, Partition = Lp, Succeeded = found };

    private Operation KeepAlive(bool alive, long call, long ret) => new(next++, 2, OpKind.LeaseKeepAlive, Lp, call, ret) { Lease = L, Partition = Lp, Succeeded = alive };

    private Operation Get(string key, string? observed, long call, long ret, string partition = Lp, int client = 3) =>
        new(next++, client, OpKind.Get, key, call, ret) { Observed = observed, Partition = partition };

    private Operation Txn(string compareKey, string? expected, bool succeeded, long call, long ret, params string[] puts) =>
        new(next++, 4, OpKind.Txn, compareKey, call, ret)
        {
            Expected = expected, Succeeded = succeeded, Partition = "g/",
            Writes = [.. puts.Select(put => put.Split('=')).Select(kv => new KeyValuePair<string, string?>(kv[0], kv[1]))],
        };

    private Operation Range(long call, long ret, params string[] read) =>
        new(next++, 5, OpKind.Range, "g/", call, ret) { Partition = "g/", Read = read.Select(put => put.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]) };

    private static Verdict Check(params Operation[] history) => LinearizabilityChecker.Check(history, Limit).Verdict;

    [Fact]
    public void A_revoke_deletes_every_key_of_its_lease_at_one_point()
    {
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), LeasePut("b", "2", true, 20, 30),
            Revoke(true, 40, 50), Get("a", null, 60, 70), Get("b", null, 60, 70)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), Revoke(true, 40, 50), Get("a", "1", 60, 70)));
        next = 0;
        // Concurrent with the revoke, a reader sees a gone and then b still there: not one point.
        var result = LinearizabilityChecker.Check([Grant(0, 10), LeasePut("a", "1", true, 20, 30), LeasePut("b", "2", true, 20, 30),
            Revoke(true, 40, 100), Get("a", null, 50, 60), Get("b", "2", 70, 80)], Limit);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal(Lp, result.Key);
    }

    [Fact]
    public void A_put_with_a_revoked_lease_fails_and_one_with_a_live_lease_succeeds()
    {
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), Revoke(true, 20, 30), LeasePut("a", "1", false, 40, 50), Get("a", null, 60, 70)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), Revoke(true, 20, 30), LeasePut("a", "1", true, 40, 50)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), LeasePut("a", "1", false, 20, 30)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), Revoke(true, 20, 30), Revoke(true, 40, 50)));
        next = 0;
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), Revoke(true, 20, 30), Revoke(false, 40, 50)));
        next = 0;
        // A grant that got no answer: the lease may exist or not, and the first put tells.
        var unknown = Grant(0, 10) with { Unknown = true, Succeeded = false };
        Assert.Equal(Verdict.Linearizable, Check(unknown, LeasePut("a", "1", false, 20, 30), LeasePut("a", "1", false, 40, 50)));
        next = 0;
        unknown = Grant(0, 10) with { Unknown = true, Succeeded = false };
        Assert.Equal(Verdict.NotLinearizable, Check(unknown, LeasePut("a", "1", true, 20, 30), LeasePut("a", "2", false, 40, 50)));
    }

    [Fact]
    public void An_unknown_revoke_is_an_unknown_delete_of_every_key()
    {
        Operation Unknown(long call) => Revoke(false, call, call + 5) with { Unknown = true };
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), Unknown(40), Get("a", "1", 60, 70)));
        next = 0;
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), Unknown(40), Get("a", null, 60, 70), LeasePut("b", "2", false, 80, 90)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), Unknown(40), Get("a", null, 60, 70), Get("a", "1", 80, 90)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), LeasePut("a", "1", true, 20, 30), Unknown(40), Get("a", null, 60, 70), LeasePut("b", "2", true, 80, 90)));
    }

    [Fact]
    public void A_keep_alive_answers_the_leases_existence()
    {
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), KeepAlive(true, 20, 30), Revoke(true, 40, 50), KeepAlive(false, 60, 70)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), Revoke(true, 40, 50), KeepAlive(true, 60, 70)));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Grant(0, 10), KeepAlive(false, 20, 30)));
        next = 0;
        Assert.Equal(Verdict.Linearizable, Check(Grant(0, 10), Revoke(true, 20, 50), KeepAlive(true, 30, 40)));
    }

    [Fact]
    public void A_multi_key_txn_writes_its_keys_at_one_point()
    {
        Assert.Equal(Verdict.Linearizable, Check(Txn("g/a", null, true, 0, 10, "g/a=1", "g/b=1"), Range(20, 30, "g/a=1", "g/b=1"),
            Txn("g/a", "1", true, 40, 50, "g/a=2", "g/c=2"), Range(60, 70, "g/a=2", "g/b=1", "g/c=2")));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Txn("g/a", null, true, 0, 10, "g/a=1", "g/b=1"), Range(20, 30, "g/a=1")));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Txn("g/a", null, true, 0, 10, "g/a=1", "g/b=1"), Get("g/b", null, 20, 30, "g/")));
        next = 0;
        // Concurrent with the txn, a range sees all of it or none of it, never half.
        Assert.Equal(Verdict.Linearizable, Check(Txn("g/a", null, true, 0, 100, "g/a=1", "g/b=1"), Range(20, 30), Range(40, 50, "g/a=1", "g/b=1")));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Txn("g/a", null, true, 0, 100, "g/a=1", "g/b=1"), Range(20, 30, "g/b=1")));
        next = 0;
        // The compare decides: failing while it held, or succeeding while it did not, is a violation.
        Assert.Equal(Verdict.NotLinearizable, Check(Txn("g/a", null, false, 0, 10, "g/a=1", "g/b=1")));
        next = 0;
        Assert.Equal(Verdict.NotLinearizable, Check(Txn("g/a", null, true, 0, 10, "g/a=1", "g/b=1"), Txn("g/a", null, true, 20, 30, "g/a=2", "g/b=2")));
        next = 0;
        Assert.Equal(Verdict.Linearizable, Check(Txn("g/a", null, true, 0, 10, "g/a=1", "g/b=1"), Txn("g/a", null, false, 20, 30, "g/a=2", "g/b=2"), Range(40, 50, "g/a=1", "g/b=1")));
    }
}
