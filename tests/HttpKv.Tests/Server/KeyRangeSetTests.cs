using Google.Protobuf;
using HttpKv.Server.Auth;

namespace HttpKv.Tests.Server;

public sealed class KeyRangeSetTests
{
    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);
    private static readonly ByteString One = ByteString.Empty;
    private static readonly ByteString FromKey = ByteString.CopyFrom(0);

    private static KeyRangeSet Set(params (string Key, string? End)[] ranges) =>
        KeyRangeSet.Of(ranges.Select(r => (B(r.Key), r.End is null ? One : r.End == "\0" ? FromKey : B(r.End))));

    private static bool Has(KeyRangeSet set, string key, string? end = null) =>
        set.Contains(B(key).Span, end is null ? One.Span : end == "\0" ? FromKey.Span : B(end).Span);

    [Fact]
    public void A_prefix_grant_holds_its_keys_and_not_the_next_prefix()
    {
        var set = Set(("a/", "a0")); // etcdctl role grant-permission --prefix a/
        Assert.True(Has(set, "a/"));
        Assert.True(Has(set, "a/x/y"));
        Assert.True(Has(set, "a/", "a0"));
        Assert.True(Has(set, "a/b", "a/c"));
        Assert.False(Has(set, "a0"));
        Assert.False(Has(set, "a"));
        Assert.False(Has(set, "a/", "a1"));
        Assert.False(Has(set, "a", "a0"));
        Assert.False(Has(set, "a/", "\0"));
    }

    [Fact]
    public void A_single_key_grant_holds_only_that_key()
    {
        var set = Set(("b", null));
        Assert.True(Has(set, "b"));
        Assert.True(Has(set, "b", "b\0")); // the range holding exactly b
        Assert.False(Has(set, "b0"));
        Assert.False(Has(set, "b", "c"));
        Assert.False(Has(set, "a"));
    }

    [Fact]
    public void Adjacent_and_overlapping_grants_merge_and_open_ended_ones_reach_every_later_key()
    {
        var set = Set(("c", "e"), ("a", "c"), ("d", "f"), ("x", "\0"));
        Assert.True(Has(set, "a", "f"));
        Assert.False(Has(set, "a", "f\0"));
        Assert.False(Has(set, "f"));
        Assert.True(Has(set, "x", "\0"));
        Assert.True(Has(set, "zzzz"));
        Assert.False(Has(set, "w", "\0"));
        Assert.False(Has(set, "a", "\0"));
    }

    [Fact]
    public void An_empty_set_holds_nothing()
    {
        Assert.False(Has(KeyRangeSet.Empty, "a"));
        Assert.False(Has(Set(), "", "\0"));
    }
}
