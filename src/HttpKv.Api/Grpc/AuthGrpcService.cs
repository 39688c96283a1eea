using Etcdserverpb;
using Grpc.Core;
using HttpKv.Server.Auth;

namespace HttpKv.Api.Grpc;

/// <summary>etcd's <c>etcdserverpb.Auth</c> service over gRPC, calling the same service the JSON routes call.</summary>
public sealed class AuthGrpcService(IAuthService auth) : Auth.AuthBase
{
    public override Task<AuthEnableResponse> AuthEnable(AuthEnableRequest request, ServerCallContext context) =>
        auth.AuthEnableAsync(request, context.CancellationToken);

    public override Task<AuthDisableResponse> AuthDisable(AuthDisableRequest request, ServerCallContext context) =>
        auth.AuthDisableAsync(request, context.CancellationToken);

    public override Task<AuthStatusResponse> AuthStatus(AuthStatusRequest request, ServerCallContext context) =>
        auth.AuthStatusAsync(request, context.CancellationToken);

    public override Task<AuthenticateResponse> Authenticate(AuthenticateRequest request, ServerCallContext context) =>
        auth.AuthenticateAsync(request, context.CancellationToken);

    public override Task<AuthUserAddResponse> UserAdd(AuthUserAddRequest request, ServerCallContext context) =>
        auth.UserAddAsync(request, context.CancellationToken);

    public override Task<AuthUserGetResponse> UserGet(AuthUserGetRequest request, ServerCallContext context) =>
        auth.UserGetAsync(request, context.CancellationToken);

    public override Task<AuthUserListResponse> UserList(AuthUserListRequest request, ServerCallContext context) =>
        auth.UserListAsync(request, context.CancellationToken);

    public override Task<AuthUserDeleteResponse> UserDelete(AuthUserDeleteRequest request, ServerCallContext context) =>
        auth.UserDeleteAsync(request, context.CancellationToken);

    public override Task<AuthUserChangePasswordResponse> UserChangePassword(AuthUserChangePasswordRequest request, ServerCallContext context) =>
        auth.UserChangePasswordAsync(request, context.CancellationToken);

    public override Task<AuthUserGrantRoleResponse> UserGrantRole(AuthUserGrantRoleRequest request, ServerCallContext context) =>
        auth.UserGrantRoleAsync(request, context.CancellationToken);

    public override Task<AuthUserRevokeRoleResponse> UserRevokeRole(AuthUserRevokeRoleRequest request, ServerCallContext context) =>
        auth.UserRevokeRoleAsync(request, context.CancellationToken);

    public override Task<AuthRoleAddResponse> RoleAdd(AuthRoleAddRequest request, ServerCallContext context) =>
        auth.RoleAddAsync(request, context.CancellationToken);

    public override Task<AuthRoleGetResponse> RoleGet(AuthRoleGetRequest request, ServerCallContext context) =>
        auth.RoleGetAsync(request, context.CancellationToken);

    public override Task<AuthRoleListResponse> RoleList(AuthRoleListRequest request, ServerCallContext context) =>
        auth.RoleListAsync(request, context.CancellationToken);

    public override Task<AuthRoleDeleteResponse> RoleDelete(AuthRoleDeleteRequest request, ServerCallContext context) =>
        auth.RoleDeleteAsync(request, context.CancellationToken);

    public override Task<AuthRoleGrantPermissionResponse> RoleGrantPermission(AuthRoleGrantPermissionRequest request, ServerCallContext context) =>
        auth.RoleGrantPermissionAsync(request, context.CancellationToken);

    public override Task<AuthRoleRevokePermissionResponse> RoleRevokePermission(AuthRoleRevokePermissionRequest request, ServerCallContext context) =>
        auth.RoleRevokePermissionAsync(request, context.CancellationToken);
}
