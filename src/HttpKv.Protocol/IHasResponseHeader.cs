namespace Etcdserverpb;

/// <summary>A response that carries etcd's <see cref="ResponseHeader"/>; lets one piece of code fill the header of any of them.</summary>
public interface IHasResponseHeader
{
    ResponseHeader Header { get; set; }
}

public sealed partial class RangeResponse : IHasResponseHeader;
public sealed partial class PutResponse : IHasResponseHeader;
public sealed partial class DeleteRangeResponse : IHasResponseHeader;
public sealed partial class TxnResponse : IHasResponseHeader;
public sealed partial class CompactionResponse : IHasResponseHeader;
public sealed partial class StatusResponse : IHasResponseHeader;
public sealed partial class MemberListResponse : IHasResponseHeader;
public sealed partial class HashKVResponse : IHasResponseHeader;
public sealed partial class AlarmResponse : IHasResponseHeader;
