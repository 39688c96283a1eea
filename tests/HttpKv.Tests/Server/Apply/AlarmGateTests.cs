using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Apply;
using HttpKv.Server.Cluster;

namespace HttpKv.Tests.Server.Apply;

public sealed class AlarmGateTests : IDisposable
{
    private readonly ApplyFixture fixture = new();
    private readonly Alarms alarms = Alarms.Decode(null);
    private readonly RecordingApplier next = new("next");

    public void Dispose() => fixture.Dispose();

    private void Raise(AlarmType type) =>
        alarms.Apply(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, Alarm = type, MemberID = 1 }, new AlarmResponse());

    [Fact]
    public void Without_an_alarm_every_request_passes_on()
    {
        var gate = new AlarmGate(alarms, next);

        Assert.Equal("next", fixture.Apply(gate, ApplyFixture.Put("k", "v")));
        Assert.Equal([LogRequest.RequestOneofCase.Put], next.Seen);
    }

    [Fact]
    public void Under_NOSPACE_a_put_is_refused_with_etcds_error_and_its_entry_still_applied_while_a_delete_passes()
    {
        Raise(AlarmType.Nospace);
        var gate = new AlarmGate(alarms, next);

        var refused = Assert.IsType<EtcdException>(fixture.Apply(gate, ApplyFixture.Put("k", "v")));
        Assert.Equal(EtcdErrors.NoSpace, refused.Error);
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);
        Assert.Equal(1, fixture.Store.CurrentRevision);

        fixture.Apply(gate, new LogRequest { DeleteRange = new DeleteRangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("k") } });
        Assert.Equal([LogRequest.RequestOneofCase.DeleteRange], next.Seen);
    }

    [Fact]
    public void Under_CORRUPT_a_delete_is_refused_too()
    {
        Raise(AlarmType.Corrupt);

        var refused = fixture.Apply(new AlarmGate(alarms, next), new LogRequest { DeleteRange = new DeleteRangeRequest() });

        Assert.Equal(EtcdErrors.Corrupt, Assert.IsType<EtcdException>(refused).Error);
        Assert.Empty(next.Seen);
    }
}
