using Etcdserverpb;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Apply;

namespace HttpKv.Tests.Server.Apply;

public sealed class RequestRouterTests : IDisposable
{
    private readonly ApplyFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public void Each_request_reaches_the_applier_of_its_domain()
    {
        RecordingApplier keys = new("keys"), leases = new("leases"), auth = new("auth"), alarms = new("alarms"), membership = new("membership");
        var router = new RequestRouter(keys, leases, auth, alarms, membership);
        var cases = new (LogRequest Request, string Domain)[]
        {
            (ApplyFixture.Put("k", "v"), "keys"),
            (new LogRequest { DeleteRange = new DeleteRangeRequest() }, "keys"),
            (new LogRequest { Txn = new TxnRequest() }, "keys"),
            (new LogRequest { Compaction = new CompactionRequest { Revision = 1 } }, "keys"),
            (new LogRequest { LeaseGrant = new LeaseGrantRequest() }, "leases"),
            (new LogRequest { LeaseRevoke = new LeaseRevokeRequest() }, "leases"),
            (new LogRequest { LeaseCheckpoint = new LeaseCheckpointRequest() }, "leases"),
            (new LogRequest { Auth = new AuthRequest { Enable = new AuthEnableRequest() } }, "auth"),
            (new LogRequest { Alarm = new AlarmRequest() }, "alarms"),
            (new LogRequest { MemberAttributes = new Member() }, "membership"),
            (new LogRequest { MemberUpdate = new Member() }, "membership"),
        };

        foreach (var (request, domain) in cases) Assert.Equal(domain, fixture.Apply(router, request));

        Assert.Equal(4, keys.Seen.Count);
        Assert.Equal(3, leases.Seen.Count);
    }
}
