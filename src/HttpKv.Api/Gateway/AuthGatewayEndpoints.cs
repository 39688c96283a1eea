using Etcdserverpb;
using HttpKv.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HttpKv.Api.Gateway;

/// <summary>etcd's gateway routes for the Auth service (<c>/v3/auth/*</c>).</summary>
public static class AuthGatewayEndpoints
{
    public static RouteGroupBuilder MapAuthGateway(this RouteGroupBuilder group)
    {
        var auth = group.MapGroup("/auth").WithTags("Auth");
        auth.MapUnary<IAuthService, AuthEnableRequest, AuthEnableResponse>("/enable", service => service.AuthEnableAsync,
            "AuthEnable", "Enables authentication; the root user (with the root role) must exist.");
        auth.MapUnary<IAuthService, AuthDisableRequest, AuthDisableResponse>("/disable", service => service.AuthDisableAsync,
            "AuthDisable", "Disables authentication (root only).");
        auth.MapUnary<IAuthService, AuthStatusRequest, AuthStatusResponse>("/status", service => service.AuthStatusAsync,
            "AuthStatus", "Whether authentication is enabled, and the auth store's revision.");
        auth.MapUnary<IAuthService, AuthenticateRequest, AuthenticateResponse>("/authenticate", service => service.AuthenticateAsync,
            "Authenticate", "Checks a user's password and returns a token for the Authorization header (or gRPC metadata `token`).");
        auth.MapUnary<IAuthService, AuthUserAddRequest, AuthUserAddResponse>("/user/add", service => service.UserAddAsync,
            "UserAdd", "Adds a user (root only).");
        auth.MapUnary<IAuthService, AuthUserGetRequest, AuthUserGetResponse>("/user/get", service => service.UserGetAsync,
            "UserGet", "A user's roles (root, or the user itself).");
        auth.MapUnary<IAuthService, AuthUserListRequest, AuthUserListResponse>("/user/list", service => service.UserListAsync,
            "UserList", "Every user's name (root only).");
        auth.MapUnary<IAuthService, AuthUserDeleteRequest, AuthUserDeleteResponse>("/user/delete", service => service.UserDeleteAsync,
            "UserDelete", "Deletes a user (root only).");
        auth.MapUnary<IAuthService, AuthUserChangePasswordRequest, AuthUserChangePasswordResponse>("/user/changepw", service => service.UserChangePasswordAsync,
            "UserChangePassword", "Changes a user's password; the user's tokens stop working (root only).");
        auth.MapUnary<IAuthService, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse>("/user/grant", service => service.UserGrantRoleAsync,
            "UserGrantRole", "Grants a role to a user (root only).");
        auth.MapUnary<IAuthService, AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse>("/user/revoke", service => service.UserRevokeRoleAsync,
            "UserRevokeRole", "Revokes a role from a user (root only).");
        auth.MapUnary<IAuthService, AuthRoleAddRequest, AuthRoleAddResponse>("/role/add", service => service.RoleAddAsync,
            "RoleAdd", "Adds a role (root only).");
        auth.MapUnary<IAuthService, AuthRoleGetRequest, AuthRoleGetResponse>("/role/get", service => service.RoleGetAsync,
            "RoleGet", "A role's key-range permissions (root, or a user holding the role).");
        auth.MapUnary<IAuthService, AuthRoleListRequest, AuthRoleListResponse>("/role/list", service => service.RoleListAsync,
            "RoleList", "Every role's name (root only).");
        auth.MapUnary<IAuthService, AuthRoleDeleteRequest, AuthRoleDeleteResponse>("/role/delete", service => service.RoleDeleteAsync,
            "RoleDelete", "Deletes a role and takes it from every user (root only).");
        auth.MapUnary<IAuthService, AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse>("/role/grant", service => service.RoleGrantPermissionAsync,
            "RoleGrantPermission", "Grants READ, WRITE or READWRITE on a key, a range or a prefix to a role (root only).");
        auth.MapUnary<IAuthService, AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse>("/role/revoke", service => service.RoleRevokePermissionAsync,
            "RoleRevokePermission", "Revokes a role's permission on exactly that key or range (root only).");
        return group;
    }
}
