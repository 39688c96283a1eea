using Etcdserverpb;
using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Cluster;
using Microsoft.Extensions.Logging;

namespace HttpKv.Server.Apply;

/// <summary>Alarm requests (raise, clear, list) applied to the cluster's <see cref="Alarms"/>; a changed set is stored
/// with the entry (<see cref="BackendMeta.Alarms"/>).</summary>
public sealed class AlarmApplier(Alarms alarms, ILogger logger) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        if (request.RequestCase != LogRequest.RequestOneofCase.Alarm) throw new ArgumentException($"not an alarm request: {request.RequestCase}", nameof(request));
        var alarm = request.Alarm;
        var response = new AlarmResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
        if (alarms.Apply(alarm, response))
        {
            batch.SetMeta(BackendMeta.Alarms, alarms.Encode());
            if (alarm.Action == AlarmRequest.Types.AlarmAction.Activate)
            {
                logger.LogWarning("Alarm {Alarm} raised for member {MemberId:x16}", alarm.Alarm, alarm.MemberID);
            }
            else
            {
                logger.LogWarning("Alarm {Alarm} of member {MemberId:x16} cleared", alarm.Alarm, alarm.MemberID);
            }
        }
        batch.MarkApplied(index);
        return response;
    }
}
