using Etcdserverpb;
using HttpKv.Protocol.Internal;
using HttpKv.Server;
using HttpKv.Server.Apply;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server.Apply;

public sealed class AlarmApplierTests : IDisposable
{
    private readonly ApplyFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    private static LogRequest Alarm(AlarmRequest.Types.AlarmAction action, AlarmType type = AlarmType.Nospace) =>
        new() { Alarm = new AlarmRequest { Action = action, Alarm = type, MemberID = 7 } };

    [Fact]
    public void A_raised_alarm_is_active_and_stored_with_its_entry_and_a_cleared_one_is_gone()
    {
        var alarms = Alarms.Decode(null);
        var applier = new AlarmApplier(alarms, NullLogger.Instance);

        var raised = Assert.IsType<AlarmResponse>(fixture.Apply(applier, Alarm(AlarmRequest.Types.AlarmAction.Activate)));

        Assert.Equal(new AlarmMember { MemberID = 7, Alarm = AlarmType.Nospace }, Assert.Single(raised.Alarms));
        Assert.True(alarms.Has(AlarmType.Nospace));
        Assert.True(Alarms.Decode(fixture.Store.ReadMeta(BackendMeta.Alarms)).Has(AlarmType.Nospace));
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);

        fixture.Apply(applier, Alarm(AlarmRequest.Types.AlarmAction.Deactivate));

        Assert.Empty(alarms.Active);
        Assert.Empty(Alarms.Decode(fixture.Store.ReadMeta(BackendMeta.Alarms)).Active);
    }

    [Fact]
    public void Listing_the_alarms_changes_nothing()
    {
        var alarms = Alarms.Decode(null);
        var applier = new AlarmApplier(alarms, NullLogger.Instance);
        fixture.Apply(applier, Alarm(AlarmRequest.Types.AlarmAction.Activate, AlarmType.Corrupt));

        var listed = Assert.IsType<AlarmResponse>(fixture.Apply(applier, Alarm(AlarmRequest.Types.AlarmAction.Get, AlarmType.None)));

        Assert.Equal(AlarmType.Corrupt, Assert.Single(listed.Alarms).Alarm);
        Assert.Single(alarms.Active);
    }
}
