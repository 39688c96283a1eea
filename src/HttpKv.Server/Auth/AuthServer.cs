using Etcdserverpb;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Auth;

/// <summary>etcd's Auth service as every interface calls it. Who may call what is the <see cref="Authorizer"/>'s
/// decision, made at the door before these run.</summary>
public interface IAuthService
{
    Task<AuthEnableResponse> AuthEnableAsync(AuthEnableRequest request, CancellationToken cancellationToken);
    Task<AuthDisableResponse> AuthDisableAsync(AuthDisableRequest request, CancellationToken cancellationToken);
    Task<AuthStatusResponse> AuthStatusAsync(AuthStatusRequest request, CancellationToken cancellationToken);
    Task<AuthenticateResponse> AuthenticateAsync(AuthenticateRequest request, CancellationToken cancellationToken);
    Task<AuthUserAddResponse> UserAddAsync(AuthUserAddRequest request, CancellationToken cancellationToken);
    Task<AuthUserGetResponse> UserGetAsync(AuthUserGetRequest request, CancellationToken cancellationToken);
    Task<AuthUserListResponse> UserListAsync(AuthUserListRequest request, CancellationToken cancellationToken);
    Task<AuthUserDeleteResponse> UserDeleteAsync(AuthUserDeleteRequest request, CancellationToken cancellationToken);
    Task<AuthUserChangePasswordResponse> UserChangePasswordAsync(AuthUserChangePasswordRequest request, CancellationToken cancellationToken);
    Task<AuthUserGrantRoleResponse> UserGrantRoleAsync(AuthUserGrantRoleRequest request, CancellationToken cancellationToken);
    Task<AuthUserRevokeRoleResponse> UserRevokeRoleAsync(AuthUserRevokeRoleRequest request, CancellationToken cancellationToken);
    Task<AuthRoleAddResponse> RoleAddAsync(AuthRoleAddRequest request, CancellationToken cancellationToken);
    Task<AuthRoleGetResponse> RoleGetAsync(AuthRoleGetRequest request, CancellationToken cancellationToken);
    Task<AuthRoleListResponse> RoleListAsync(AuthRoleListRequest request, CancellationToken cancellationToken);
    Task<AuthRoleDeleteResponse> RoleDeleteAsync(AuthRoleDeleteRequest request, CancellationToken cancellationToken);
    Task<AuthRoleGrantPermissionResponse> RoleGrantPermissionAsync(AuthRoleGrantPermissionRequest request, CancellationToken cancellationToken);
    Task<AuthRoleRevokePermissionResponse> RoleRevokePermissionAsync(AuthRoleRevokePermissionRequest request, CancellationToken cancellationToken);
}

/// <summary>Changes go through the log (passwords hashed with bcrypt here, by the proposer, so apply stays cheap);
/// reads wait for the read index and answer from the member's own auth store.</summary>
public sealed class AuthServer(MemberHost host) : IAuthService
{
    /// <summary>How often an authentication is retried when the auth store changes between the password check and its apply.</summary>
    private const int AuthenticateAttempts = 5;

    public Task<AuthEnableResponse> AuthEnableAsync(AuthEnableRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthEnableResponse>(new AuthRequest { Enable = request }, cancellationToken);

    public Task<AuthDisableResponse> AuthDisableAsync(AuthDisableRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthDisableResponse>(new AuthRequest { Disable = request }, cancellationToken);

    public Task<AuthStatusResponse> AuthStatusAsync(AuthStatusRequest request, CancellationToken cancellationToken) =>
        ReadAsync(auth => auth.Status(), cancellationToken);

    public async Task<AuthenticateResponse> AuthenticateAsync(AuthenticateRequest request, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        for (var attempt = 1; ; attempt++)
        {
            var checkedRevision = await Task.Run(() => member.Auth.CheckPassword(request.Name, request.Password), cancellationToken);
            var record = new AuthenticateRecord { Name = request.Name, SimpleToken = SimpleTokens.NewPrefix(), CheckedRevision = checkedRevision };
            try
            {
                return await member.ProposeAsync<AuthenticateResponse>(new LogRequest { Auth = new AuthRequest { Authenticate = record } }, cancellationToken);
            }
            catch (EtcdException exception) when (exception.Error == EtcdErrors.AuthOldRevision && attempt < AuthenticateAttempts)
            {
                // users or roles changed meanwhile: check the password again against the new state, as etcd does
            }
        }
    }

    public async Task<AuthUserAddResponse> UserAddAsync(AuthUserAddRequest request, CancellationToken cancellationToken)
    {
        var add = request.Clone();
        if (add.Options is not { NoPassword: true } && add.HashedPassword.Length == 0)
            add.HashedPassword = await HashAsync(add.Password, cancellationToken);
        add.Password = "";
        return await ProposeAsync<AuthUserAddResponse>(new AuthRequest { UserAdd = add }, cancellationToken);
    }

    public Task<AuthUserGetResponse> UserGetAsync(AuthUserGetRequest request, CancellationToken cancellationToken) =>
        ReadAsync(auth => auth.UserGet(request.Name), cancellationToken);

    public Task<AuthUserListResponse> UserListAsync(AuthUserListRequest request, CancellationToken cancellationToken) =>
        ReadAsync(auth => auth.UserList(), cancellationToken);

    public Task<AuthUserDeleteResponse> UserDeleteAsync(AuthUserDeleteRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthUserDeleteResponse>(new AuthRequest { UserDelete = request }, cancellationToken);

    public async Task<AuthUserChangePasswordResponse> UserChangePasswordAsync(AuthUserChangePasswordRequest request, CancellationToken cancellationToken)
    {
        var change = request.Clone();
        if (change.HashedPassword.Length == 0) change.HashedPassword = await HashAsync(change.Password, cancellationToken);
        change.Password = "";
        return await ProposeAsync<AuthUserChangePasswordResponse>(new AuthRequest { UserChangePassword = change }, cancellationToken);
    }

    public Task<AuthUserGrantRoleResponse> UserGrantRoleAsync(AuthUserGrantRoleRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthUserGrantRoleResponse>(new AuthRequest { UserGrantRole = request }, cancellationToken);

    public Task<AuthUserRevokeRoleResponse> UserRevokeRoleAsync(AuthUserRevokeRoleRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthUserRevokeRoleResponse>(new AuthRequest { UserRevokeRole = request }, cancellationToken);

    public Task<AuthRoleAddResponse> RoleAddAsync(AuthRoleAddRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthRoleAddResponse>(new AuthRequest { RoleAdd = request }, cancellationToken);

    public Task<AuthRoleGetResponse> RoleGetAsync(AuthRoleGetRequest request, CancellationToken cancellationToken) =>
        ReadAsync(auth => auth.RoleGet(request.Role), cancellationToken);

    public Task<AuthRoleListResponse> RoleListAsync(AuthRoleListRequest request, CancellationToken cancellationToken) =>
        ReadAsync(auth => auth.RoleList(), cancellationToken);

    public Task<AuthRoleDeleteResponse> RoleDeleteAsync(AuthRoleDeleteRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthRoleDeleteResponse>(new AuthRequest { RoleDelete = request }, cancellationToken);

    public Task<AuthRoleGrantPermissionResponse> RoleGrantPermissionAsync(AuthRoleGrantPermissionRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthRoleGrantPermissionResponse>(new AuthRequest { RoleGrantPermission = request }, cancellationToken);

    public Task<AuthRoleRevokePermissionResponse> RoleRevokePermissionAsync(AuthRoleRevokePermissionRequest request, CancellationToken cancellationToken) =>
        ProposeAsync<AuthRoleRevokePermissionResponse>(new AuthRequest { RoleRevokePermission = request }, cancellationToken);

    private async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        var member = await host.Ready;
        return await Task.Run(() => member.Auth.HashPassword(password), cancellationToken); // bcrypt is slow by design
    }

    private async Task<T> ProposeAsync<T>(AuthRequest request, CancellationToken cancellationToken) where T : class, Google.Protobuf.IMessage, IHasResponseHeader =>
        await (await host.Ready).ProposeAsync<T>(new LogRequest { Auth = request }, cancellationToken);

    /// <summary>A linearizable read of the auth store (etcd sends these through its log; a read index is as current).</summary>
    private async Task<T> ReadAsync<T>(Func<AuthStore, T> read, CancellationToken cancellationToken) where T : IHasResponseHeader
    {
        var member = await host.Ready;
        await member.Log.WaitForReadIndexAsync(cancellationToken);
        var response = read(member.Auth);
        response.Header = member.CurrentHeader();
        return response;
    }
}
