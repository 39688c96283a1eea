using Etcdserverpb;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Apply;
using HttpKv.Server.Auth;
using HttpKv.Server.Leases;

namespace HttpKv.Tests.Server.Apply;

/// <summary>The lease and auth appliers hand their requests to the domain that owns them.</summary>
public sealed class DomainApplierTests : IDisposable
{
    private readonly ApplyFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public void Lease_grants_and_revokes_reach_the_lessor()
    {
        var lessor = new Lessor(minTtl: 2, TimeProvider.System);
        var applier = new LeaseApplier(lessor);

        var granted = Assert.IsType<LeaseGrantResponse>(fixture.Apply(applier, new LogRequest { LeaseGrant = new LeaseGrantRequest { ID = 5, TTL = 60 } }));
        Assert.Equal(5, granted.ID);
        Assert.True(lessor.Exists(5));

        Assert.IsType<LeaseRevokeResponse>(fixture.Apply(applier, new LogRequest { LeaseRevoke = new LeaseRevokeRequest { ID = 5 } }));
        Assert.False(lessor.Exists(5));
        Assert.Throws<ArgumentException>(() => fixture.Apply(applier, ApplyFixture.Put("k", "v")));
    }

    [Fact]
    public void Auth_requests_reach_the_auth_store()
    {
        var auth = new AuthStore(TokenProviders.Create("simple", TimeSpan.FromMinutes(5), TimeProvider.System), bcryptCost: 4);
        var applier = new AuthApplier(auth);

        fixture.Apply(applier, new LogRequest { Auth = new AuthRequest { RoleAdd = new AuthRoleAddRequest { Name = "readers" } } });

        Assert.Equal(2UL, auth.Revision);
        Assert.Throws<ArgumentException>(() => fixture.Apply(applier, ApplyFixture.Put("k", "v")));
    }
}
