using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Apply;
using HttpKv.Server.Auth;

namespace HttpKv.Tests.Server.Apply;

public sealed class AuthRevisionGateTests : IDisposable
{
    private readonly ApplyFixture fixture = new();
    private readonly AuthStore auth = new(TokenProviders.Create("simple", TimeSpan.FromMinutes(5), TimeProvider.System), bcryptCost: 4);
    private readonly RecordingApplier next = new("next");

    public void Dispose() => fixture.Dispose();

    /// <summary>Auth on, as etcdctl turns it on: a root user with the root role, then enable. Returns the revision.</summary>
    private ulong EnableAuth()
    {
        var applier = new AuthApplier(auth);
        foreach (var request in new AuthRequest[]
        {
            new() { UserAdd = new AuthUserAddRequest { Name = "root", Options = new Authpb.UserAddOptions { NoPassword = true } } },
            new() { RoleAdd = new AuthRoleAddRequest { Name = "root" } },
            new() { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } },
            new() { Enable = new AuthEnableRequest() },
        })
        {
            Assert.IsNotType<EtcdException>(fixture.Apply(applier, new LogRequest { Auth = request }));
        }
        Assert.True(auth.Enabled);
        return auth.Revision;
    }

    [Fact]
    public void A_write_checked_at_the_current_auth_revision_passes_and_one_checked_before_a_change_is_refused()
    {
        var revision = EnableAuth();
        var gate = new AuthRevisionGate(auth, next);

        Assert.Equal("next", fixture.Apply(gate, WithRevision(ApplyFixture.Put("k", "v"), revision)));
        var stale = fixture.Apply(gate, WithRevision(new LogRequest { Txn = new TxnRequest() }, revision - 1));

        Assert.Equal(EtcdErrors.AuthOldRevision, Assert.IsType<EtcdException>(stale).Error);
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);
        Assert.Equal([LogRequest.RequestOneofCase.Put], next.Seen);
    }

    [Fact]
    public void Requests_other_than_key_writes_are_not_judged_by_the_auth_revision()
    {
        EnableAuth();

        fixture.Apply(new AuthRevisionGate(auth, next), new LogRequest { LeaseGrant = new LeaseGrantRequest { ID = 5, TTL = 60 } });

        Assert.Equal([LogRequest.RequestOneofCase.LeaseGrant], next.Seen);
    }

    [Fact]
    public void With_auth_off_no_write_is_refused()
    {
        fixture.Apply(new AuthRevisionGate(auth, next), ApplyFixture.Put("k", "v"));

        Assert.Equal([LogRequest.RequestOneofCase.Put], next.Seen);
    }

    private static LogRequest WithRevision(LogRequest request, ulong revision)
    {
        request.AuthRevision = revision;
        return request;
    }
}
