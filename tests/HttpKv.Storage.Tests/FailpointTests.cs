using HttpKv.Storage;

namespace HttpKv.Storage.Tests;

public sealed class FailpointTests
{
    [Fact]
    public void Known_points_and_actions_parse()
    {
        var points = Failpoints.Parse("walAfterSync=panic@3; backendBeforeCommit=sleep(20);raftBeforeApply=panic");
        Assert.Equal(["backendBeforeCommit", "raftBeforeApply", "walAfterSync"], points.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("walAfterSink=panic")]
    [InlineData("walAfterSync=crash")]
    [InlineData("walAfterSync=panic@0")]
    [InlineData("walAfterSync=sleep(x)")]
    [InlineData("walAfterSync")]
    public void A_typo_is_an_error_not_a_silently_disabled_point(string spec) =>
        Assert.Throws<ArgumentException>(() => Failpoints.Parse(spec));
}
