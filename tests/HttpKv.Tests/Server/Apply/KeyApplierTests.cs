using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Server.Apply;

namespace HttpKv.Tests.Server.Apply;

public sealed class KeyApplierTests : IDisposable
{
    private readonly ApplyFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public void A_put_is_stored_at_the_next_revision()
    {
        var response = Assert.IsType<PutResponse>(fixture.Apply(new KeyApplier(), ApplyFixture.Put("k", "v")));

        Assert.Equal(2, response.Header.Revision);
        Assert.Equal(2, fixture.Store.CurrentRevision);
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);
    }

    [Fact]
    public void An_etcd_error_of_the_request_is_its_answer_and_the_entry_is_still_applied()
    {
        var request = ApplyFixture.Put("k", "v");
        request.Put.Lease = 42; // no such lease

        var failed = Assert.IsType<EtcdException>(fixture.Apply(new KeyApplier(), request));

        Assert.Equal(EtcdErrors.LeaseNotFound, failed.Error);
        Assert.Equal(1, fixture.Store.CurrentRevision);
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);
    }
}
