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
public sealed partial class AuthEnableResponse : IHasResponseHeader;
public sealed partial class AuthDisableResponse : IHasResponseHeader;
public sealed partial class AuthStatusResponse : IHasResponseHeader;
public sealed partial class AuthenticateResponse : IHasResponseHeader;
public sealed partial class AuthUserAddResponse : IHasResponseHeader;
public sealed partial class AuthUserGetResponse : IHasResponseHeader;
public sealed partial class AuthUserListResponse : IHasResponseHeader;
public sealed partial class AuthUserDeleteResponse : IHasResponseHeader;
public sealed partial class AuthUserChangePasswordResponse : IHasResponseHeader;
public sealed partial class AuthUserGrantRoleResponse : IHasResponseHeader;
public sealed partial class AuthUserRevokeRoleResponse : IHasResponseHeader;
public sealed partial class AuthRoleAddResponse : IHasResponseHeader;
public sealed partial class AuthRoleGetResponse : IHasResponseHeader;
public sealed partial class AuthRoleListResponse : IHasResponseHeader;
public sealed partial class AuthRoleDeleteResponse : IHasResponseHeader;
public sealed partial class AuthRoleGrantPermissionResponse : IHasResponseHeader;
public sealed partial class AuthRoleRevokePermissionResponse : IHasResponseHeader;
