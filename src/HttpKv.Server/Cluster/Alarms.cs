using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Cluster;

/// <summary>The cluster's active alarms (etcd's alarm store), as the applied log defines them: a member raises NOSPACE
/// when its backend passes the quota and CORRUPT when its data disagrees with its peers'; an operator clears them
/// (<c>etcdctl alarm disarm</c>). Changed only by the apply loop; read from any thread through <see cref="Active"/>.
/// While an alarm is active the apply loop refuses the requests etcd refuses (<see cref="Refusal"/>).</summary>
public sealed class Alarms
{

    private volatile IReadOnlyList<AlarmMember> active;

    private Alarms(IReadOnlyList<AlarmMember> active) => this.active = active;

    /// <summary>The active alarms, ordered by member and type; an immutable list.</summary>
    public IReadOnlyList<AlarmMember> Active => active;

    public bool Has(AlarmType type)
    {
        foreach (var alarm in active)
        {
            if (alarm.Alarm == type) return true;
        }
        return false;
    }

    public static Alarms Decode(byte[]? bytes) => new(Parse(bytes));

    /// <summary>Replaces the set with the one <paramref name="bytes"/> encode (a backend installed from a snapshot).</summary>
    public void Restore(byte[]? bytes) => active = Parse(bytes);

    private static IReadOnlyList<AlarmMember> Parse(byte[]? bytes) => bytes is null ? [] : [.. AlarmSet.Parser.ParseFrom(bytes).Alarms];

    public byte[] Encode()
    {
        var set = new AlarmSet();
        set.Alarms.AddRange(active);
        return set.ToByteArray();
    }

    /// <summary>Applies an alarm request; true when the set changed (and must be stored). The response lists the
    /// alarms asked for (GET: all, or those of one type) or the one activated or deactivated, as etcd's.</summary>
    public bool Apply(AlarmRequest request, AlarmResponse response)
    {
        var target = new AlarmMember { MemberID = request.MemberID, Alarm = request.Alarm };
        switch (request.Action)
        {
            case AlarmRequest.Types.AlarmAction.Get:
                response.Alarms.AddRange(active.Where(alarm => request.Alarm == AlarmType.None || alarm.Alarm == request.Alarm));
                return false;
            case AlarmRequest.Types.AlarmAction.Activate when request.Alarm != AlarmType.None:
                response.Alarms.Add(target);
                if (active.Contains(target)) return false;
                active = [.. active.Append(target).OrderBy(alarm => alarm.MemberID).ThenBy(alarm => alarm.Alarm)];
                return true;
            case AlarmRequest.Types.AlarmAction.Deactivate when active.Contains(target):
                response.Alarms.Add(target);
                active = [.. active.Where(alarm => !alarm.Equals(target))];
                return true;
            default:
                return false;
        }
    }

    /// <summary>The error the apply loop answers <paramref name="request"/> with while the alarms are active, or null:
    /// under CORRUPT every change of keys or leases fails; under NOSPACE whatever may grow the database (puts, writing
    /// transactions, lease grants) fails, while reads, deletes, compaction and lease revokes go on so that space can be
    /// freed — etcd's capped and corrupt appliers.</summary>
    public EtcdError? Refusal(LogRequest request)
    {
        if (active.Count == 0) return null;
        if (Has(AlarmType.Corrupt) && request.RequestCase is LogRequest.RequestOneofCase.Put or LogRequest.RequestOneofCase.DeleteRange
                or LogRequest.RequestOneofCase.Txn or LogRequest.RequestOneofCase.Compaction or LogRequest.RequestOneofCase.LeaseGrant
                or LogRequest.RequestOneofCase.LeaseRevoke)
            return EtcdErrors.Corrupt;
        if (Has(AlarmType.Nospace) && (request.RequestCase is LogRequest.RequestOneofCase.Put or LogRequest.RequestOneofCase.LeaseGrant
                || request.RequestCase == LogRequest.RequestOneofCase.Txn && !IsReadOnly(request.Txn)))
            return EtcdErrors.NoSpace;
        return null;
    }

    /// <summary>A transaction whose every branch only reads (nested transactions included).</summary>
    public static bool IsReadOnly(TxnRequest txn) =>
        txn.Success.Concat(txn.Failure).All(op => op.RequestCase switch
        {
            RequestOp.RequestOneofCase.RequestRange => true,
            RequestOp.RequestOneofCase.RequestTxn => IsReadOnly(op.RequestTxn),
            _ => false,
        });
}
