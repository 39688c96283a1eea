using HttpKv.Robustness.Checking;

namespace HttpKv.Robustness.Tests;

public sealed class LinearizabilityCheckerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private int next;

    private Operation Put(string key, string value, long call, long ret, int client = 0) =>
        new(next++, client, OpKind.Put, key, call, ret) { Value = value };

    private Operation Get(string key, string? observed, long call, long ret, int client = 1) =>
        new(next++, client, OpKind.Get, key, call, ret) { Observed = observed };

    private Operation Cas(string key, string? expected, string value, bool succeeded, long call, long ret, int client = 2) =>
        new(next++, client, OpKind.CompareAndSwap, key, call, ret) { Expected = expected, Value = value, Succeeded = succeeded };

    private static Verdict Check(params Operation[] history) => LinearizabilityChecker.Check(history, Limit).Verdict;

    [Fact]
    public void Sequential_reads_see_the_last_write()
    {
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), Get("k", "1", 20, 30), Put("k", "2", 40, 50), Get("k", "2", 60, 70)));
        Assert.Equal(Verdict.Linearizable, Check(Get("k", null, 0, 5), Put("k", "1", 10, 20)));
    }

    [Fact]
    public void A_stale_read_after_a_completed_write_is_a_violation()
    {
        var result = LinearizabilityChecker.Check([Put("k", "1", 0, 10), Put("k", "2", 20, 30), Get("k", "1", 40, 50)], Limit);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal("k", result.Key);
        Assert.Equal(3, result.Operations!.Count);
    }

    [Fact]
    public void A_violation_names_the_operation_that_cannot_return_and_draws_the_operations_around_it()
    {
        var early = Put("k", "0", 0, 10);
        var stale = Get("k", "1", 10_040_000, 10_050_000);
        var result = LinearizabilityChecker.Check([early, Put("k", "1", 10_000_000, 10_010_000), Put("k", "2", 10_020_000, 10_030_000, client: 3), stale], Limit);

        Assert.Equal(stale, result.Blocked);
        Assert.Equal("2", result.StateAtBlock);
        var window = Timeline.Window(result);
        Assert.DoesNotContain(early, window); // ten seconds earlier: outside the window
        Assert.Contains(stale, window);
        Assert.Equal(3, window.Count);
        Assert.Contains($"→ {stale}", Timeline.Describe(result), StringComparison.Ordinal);
        var html = Timeline.Html(result, ["10015 ms: kill -9 m1 for 2.0s", "90000 ms: SIGSTOP m2 for 1.5s"]);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.Contains("#f4a0a0", html, StringComparison.Ordinal); // the blocked operation in red
        Assert.Contains("kill -9 m1", html, StringComparison.Ordinal);
        Assert.DoesNotContain("SIGSTOP", html, StringComparison.Ordinal); // outside the window
    }

    [Fact]
    public void A_read_concurrent_with_a_write_may_see_either_value()
    {
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), Put("k", "2", 20, 50), Get("k", "1", 30, 40)));
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), Put("k", "2", 20, 50), Get("k", "2", 30, 40)));
    }

    [Fact]
    public void Two_reads_cannot_see_a_concurrent_write_and_then_miss_it()
    {
        // put 2 is concurrent with both reads, but the first read saw it, so the later one must too.
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), Put("k", "2", 20, 100), Get("k", "2", 30, 40), Get("k", "1", 50, 60)));
    }

    [Fact]
    public void A_lost_write_is_a_violation_and_an_unknown_one_may_have_happened_or_not()
    {
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), Get("k", null, 20, 30)));
        var unknown = Put("k", "2", 20, 25) with { Unknown = true };
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), unknown, Get("k", "1", 30, 40)));
        next = 0;
        unknown = Put("k", "2", 20, 25) with { Unknown = true };
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), unknown, Get("k", "2", 30, 40)));
        next = 0;
        unknown = Put("k", "2", 20, 25) with { Unknown = true };
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), unknown, Get("k", "2", 30, 40), Get("k", "1", 50, 60)));
    }

    [Fact]
    public void Compare_and_swap_succeeds_only_on_the_expected_value()
    {
        Assert.Equal(Verdict.Linearizable, Check(Put("k", "1", 0, 10), Cas("k", "1", "2", true, 20, 30), Get("k", "2", 40, 50)));
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), Cas("k", "0", "2", true, 20, 30)));
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), Cas("k", "1", "2", false, 20, 30)));
        // Two concurrent swaps from the same value: only one may win.
        Assert.Equal(Verdict.NotLinearizable, Check(Put("k", "1", 0, 10), Cas("k", "1", "a", true, 20, 40, 2), Cas("k", "1", "b", true, 20, 40, 3)));
    }

    [Fact]
    public void Keys_are_judged_apart_and_the_violating_key_is_named()
    {
        var result = LinearizabilityChecker.Check([Put("a", "1", 0, 10), Get("a", "1", 20, 30), Put("b", "1", 0, 10), Get("b", null, 20, 30)], Limit);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal("b", result.Key);
    }

    [Fact]
    public void A_large_concurrent_history_is_decided()
    {
        // 8 clients, 400 operations on one key, all genuinely from a sequential execution with overlapping windows.
        var random = new Random(7);
        var history = new List<Operation>();
        string? value = null;
        for (var i = 0; i < 400; i++)
        {
            var at = i * 10L; // the linearization point
            var call = at - random.Next(0, 30);
            var ret = at + random.Next(0, 30);
            if (random.Next(2) == 0)
            {
                value = "v" + i;
                history.Add(Put("k", value, call, ret, i % 8));
            }
            else
            {
                history.Add(Get("k", value, call, ret, i % 8));
            }
        }
        Assert.Equal(Verdict.Linearizable, LinearizabilityChecker.Check(history, Limit).Verdict);
    }
}
