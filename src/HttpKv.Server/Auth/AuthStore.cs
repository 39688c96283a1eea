using System.Collections.Concurrent;
using System.Collections.Immutable;
using Authpb;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Mvcc;
using HttpKv.Protocol;
using HttpKv.Protocol.Internal;

namespace HttpKv.Server.Auth;

/// <summary>The kind of access a request needs to a key range.</summary>
public enum Access
{
    Read,
    Write,
}

/// <summary>A member's users, roles and auth switch (etcd's auth store), as applied from the log and persisted in
/// the backend's meta bucket (<c>auth.user.NAME</c>, <c>auth.role.NAME</c>, <c>auth.enabled</c>, <c>auth.revision</c>),
/// so every member agrees and a restart or a snapshot brings them back.
///
/// The state is immutable and swapped whole on each applied change, so the permission checks on request threads
/// take no lock; each state keeps its own cache of every user's merged key ranges. Every change raises the auth
/// revision, as etcd's does. Apply-side methods run on the apply loop only.</summary>
public sealed class AuthStore(ITokenProvider tokens, int bcryptCost)
{
    public const string RootUser = "root";
    public const string RootRole = "root";

    private volatile State state = State.Initial;

    public ITokenProvider Tokens { get; } = tokens;
    public int BcryptCost { get; } = bcryptCost;
    public bool Enabled => state.Enabled;
    public ulong Revision => state.Revision;

    private sealed class State(bool enabled, ulong revision, ImmutableSortedDictionary<string, User> users, ImmutableSortedDictionary<string, Role> roles)
    {
        /// <summary>A new store's revision is 1, as etcd's.</summary>
        public static readonly State Initial = new(false, 1, ImmutableSortedDictionary.Create<string, User>(StringComparer.Ordinal),
            ImmutableSortedDictionary.Create<string, Role>(StringComparer.Ordinal));

        private readonly ConcurrentDictionary<string, (KeyRangeSet Read, KeyRangeSet Write)> permissions = new(StringComparer.Ordinal);

        public bool Enabled { get; } = enabled;
        public ulong Revision { get; } = revision;
        public ImmutableSortedDictionary<string, User> Users { get; } = users;
        public ImmutableSortedDictionary<string, Role> Roles { get; } = roles;

        public State With(bool? enabled = null, ImmutableSortedDictionary<string, User>? users = null, ImmutableSortedDictionary<string, Role>? roles = null) =>
            new(enabled ?? Enabled, Revision + 1, users ?? Users, roles ?? Roles);

        public KeyRangeSet Permitted(User user, Access access)
        {
            var sets = permissions.GetOrAdd(user.Name.ToStringUtf8(), _ =>
            {
                var granted = user.Roles.Select(name => Roles.GetValueOrDefault(name)).OfType<Role>().SelectMany(role => role.KeyPermission).ToList();
                return (
                    KeyRangeSet.Of(granted.Where(p => p.PermType != Permission.Types.Type.Write).Select(p => (p.Key, p.RangeEnd))),
                    KeyRangeSet.Of(granted.Where(p => p.PermType != Permission.Types.Type.Read).Select(p => (p.Key, p.RangeEnd))));
            });
            return access == Access.Read ? sets.Read : sets.Write;
        }
    }

    private static bool HasRootRole(User user) => user.Roles.Contains(RootRole);

    // ---- request side (any thread) ----

    /// <summary>Who a request comes from: the user of its token, else (with client certificate auth) the common name
    /// of its certificate; null when auth is off or the request names nobody. A bad token is refused.</summary>
    public AuthInfo? Identify(string? token, string? commonName)
    {
        var current = state;
        if (!current.Enabled) return null;
        if (!string.IsNullOrEmpty(token))
            return Tokens.Info(token, current.Revision) ?? throw EtcdErrors.InvalidAuthToken.ToException();
        return string.IsNullOrEmpty(commonName) ? null : new AuthInfo(commonName, current.Revision);
    }

    /// <summary>Refuses the caller unless its roles grant <paramref name="access"/> to every key of the range
    /// (etcd's encoding: an empty end is one key, <c>"\0"</c> every key from <paramref name="key"/> on).</summary>
    public void CheckPermitted(AuthInfo? caller, ByteString key, ByteString rangeEnd, Access access)
    {
        var current = state;
        if (!current.Enabled) return;
        var user = CheckCurrent(current, caller);
        if (HasRootRole(user)) return;
        if (!current.Permitted(user, access).Contains(key.Span, rangeEnd.Span)) throw EtcdErrors.PermissionDenied.ToException();
    }

    /// <summary>Refuses the caller unless it has the root role (etcd's IsAdminPermitted).</summary>
    public void CheckAdmin(AuthInfo? caller)
    {
        var current = state;
        if (!current.Enabled) return;
        if (caller is null || caller.User.Length == 0) throw EtcdErrors.UserEmpty.ToException();
        var user = current.Users.GetValueOrDefault(caller.User) ?? throw EtcdErrors.UserNotFound.ToException();
        if (!HasRootRole(user)) throw EtcdErrors.PermissionDenied.ToException();
    }

    /// <summary>Whether the caller may act as administrator (auth off, or the root role).</summary>
    public bool IsAdmin(AuthInfo? caller)
    {
        var current = state;
        return !current.Enabled || caller is not null && current.Users.GetValueOrDefault(caller.User) is { } user && HasRootRole(user);
    }

    /// <summary>Whether the caller holds the named role.</summary>
    public bool HasRole(AuthInfo? caller, string role) =>
        caller is not null && state.Users.GetValueOrDefault(caller.User) is { } user && user.Roles.Contains(role);

    /// <summary>Refuses a caller whose identity stands for an older auth revision than the store's, or nobody.</summary>
    private static User CheckCurrent(State current, AuthInfo? caller)
    {
        if (caller is null || caller.Revision == 0) throw EtcdErrors.UserEmpty.ToException();
        if (caller.Revision < current.Revision) throw EtcdErrors.AuthOldRevision.ToException();
        return current.Users.GetValueOrDefault(caller.User) ?? throw EtcdErrors.PermissionDenied.ToException();
    }

    /// <summary>Checks a password (bcrypt, so slow on purpose: done before proposing, never on the apply loop) and
    /// returns the auth revision it was checked at.</summary>
    public ulong CheckPassword(string name, string password)
    {
        var current = state;
        if (!current.Enabled) throw EtcdErrors.AuthNotEnabled.ToException();
        var user = current.Users.GetValueOrDefault(name ?? "");
        if (user is null || user.Options is { NoPassword: true } || user.Password.IsEmpty) throw EtcdErrors.AuthFailed.ToException();
        bool matches;
        try
        {
            matches = BCrypt.Net.BCrypt.Verify(password ?? "", user.Password.ToStringUtf8());
        }
        catch (BCrypt.Net.SaltParseException)
        {
            matches = false;
        }
        if (!matches) throw EtcdErrors.AuthFailed.ToException();
        return current.Revision;
    }

    public string HashPassword(string password) => BCrypt.Net.BCrypt.HashPassword(password ?? "", BcryptCost);

    public AuthStatusResponse Status()
    {
        var current = state;
        return new AuthStatusResponse { Enabled = current.Enabled, AuthRevision = current.Revision };
    }

    public AuthUserGetResponse UserGet(string name)
    {
        var user = state.Users.GetValueOrDefault(name ?? "") ?? throw EtcdErrors.UserNotFound.ToException();
        var response = new AuthUserGetResponse();
        response.Roles.AddRange(user.Roles);
        return response;
    }

    public AuthUserListResponse UserList()
    {
        var response = new AuthUserListResponse();
        response.Users.AddRange(state.Users.Keys);
        return response;
    }

    public AuthRoleGetResponse RoleGet(string name)
    {
        var role = state.Roles.GetValueOrDefault(name ?? "") ?? throw EtcdErrors.RoleNotFound.ToException();
        var response = new AuthRoleGetResponse();
        response.Perm.AddRange(role.KeyPermission);
        return response;
    }

    public AuthRoleListResponse RoleList()
    {
        var response = new AuthRoleListResponse();
        response.Roles.AddRange(state.Roles.Keys);
        return response;
    }

    // ---- apply side (the apply loop) ----

    /// <summary>Applies one auth change from the log. Returns the response, or an EtcdException for the proposer.</summary>
    public object Apply(ApplyBatch batch, ulong index, AuthRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        batch.MarkApplied(index);
        try
        {
            var current = state;
            IMessage response = request.RequestCase switch
            {
                AuthRequest.RequestOneofCase.Enable => Enable(batch, current),
                AuthRequest.RequestOneofCase.Disable => Disable(batch, current),
                AuthRequest.RequestOneofCase.Authenticate => Authenticate(current, index, request.Authenticate),
                AuthRequest.RequestOneofCase.UserAdd => UserAdd(batch, current, request.UserAdd),
                AuthRequest.RequestOneofCase.UserDelete => UserDelete(batch, current, request.UserDelete.Name),
                AuthRequest.RequestOneofCase.UserChangePassword => UserChangePassword(batch, current, request.UserChangePassword),
                AuthRequest.RequestOneofCase.UserGrantRole => UserGrantRole(batch, current, request.UserGrantRole),
                AuthRequest.RequestOneofCase.UserRevokeRole => UserRevokeRole(batch, current, request.UserRevokeRole),
                AuthRequest.RequestOneofCase.RoleAdd => RoleAdd(batch, current, request.RoleAdd.Name),
                AuthRequest.RequestOneofCase.RoleDelete => RoleDelete(batch, current, request.RoleDelete.Role),
                AuthRequest.RequestOneofCase.RoleGrantPermission => RoleGrantPermission(batch, current, request.RoleGrantPermission),
                AuthRequest.RequestOneofCase.RoleRevokePermission => RoleRevokePermission(batch, current, request.RoleRevokePermission),
                _ => throw EtcdErrors.UnknownAuthRequest.ToException(),
            };
            return response;
        }
        catch (EtcdException exception)
        {
            return exception;
        }
    }

    /// <summary>Whether a client write checked at <paramref name="checkedRevision"/> may still be applied: etcd
    /// refuses it when auth is on and the store changed since (or nobody was identified).</summary>
    public EtcdError? CheckAtApply(ulong checkedRevision)
    {
        var current = state;
        if (!current.Enabled) return null;
        if (checkedRevision == 0) return EtcdErrors.UserEmpty;
        return checkedRevision < current.Revision ? EtcdErrors.AuthOldRevision : null;
    }

    private IMessage Enable(ApplyBatch batch, State current)
    {
        if (current.Enabled) return new AuthEnableResponse();
        var root = current.Users.GetValueOrDefault(RootUser) ?? throw EtcdErrors.RootUserNotExist.ToException();
        if (!HasRootRole(root)) throw EtcdErrors.RootRoleNotExist.ToException();
        Commit(batch, current.With(enabled: true));
        batch.SetMeta(BackendMeta.AuthEnabled, [1]);
        return new AuthEnableResponse();
    }

    private IMessage Disable(ApplyBatch batch, State current)
    {
        if (!current.Enabled) return new AuthDisableResponse();
        Commit(batch, current.With(enabled: false));
        batch.SetMeta(BackendMeta.AuthEnabled, [0]);
        Tokens.Clear();
        return new AuthDisableResponse();
    }

    private IMessage Authenticate(State current, ulong index, AuthenticateRecord record)
    {
        if (!current.Enabled) throw EtcdErrors.AuthNotEnabled.ToException();
        if (record.CheckedRevision != current.Revision) throw EtcdErrors.AuthOldRevision.ToException(); // the proposer checks again
        var user = current.Users.GetValueOrDefault(record.Name);
        if (user is null || user.Options is { NoPassword: true }) throw EtcdErrors.AuthFailed.ToException();
        try
        {
            return new AuthenticateResponse { Token = Tokens.Assign(record.Name, current.Revision, record.SimpleToken, index) };
        }
        catch (InvalidOperationException)
        {
            return new AuthenticateResponse(); // this member can check tokens but not issue them; only the proposer's answer counts
        }
    }

    private IMessage UserAdd(ApplyBatch batch, State current, AuthUserAddRequest request)
    {
        if (request.Name.Length == 0) throw EtcdErrors.UserEmpty.ToException();
        if (current.Users.ContainsKey(request.Name)) throw EtcdErrors.UserAlreadyExist.ToException();
        var noPassword = request.Options is { NoPassword: true };
        var user = new User
        {
            Name = ByteString.CopyFromUtf8(request.Name),
            Password = noPassword ? ByteString.Empty : ByteString.CopyFromUtf8(request.HashedPassword),
            Options = request.Options ?? new UserAddOptions(),
        };
        PutUser(batch, current, user);
        return new AuthUserAddResponse();
    }

    private IMessage UserDelete(ApplyBatch batch, State current, string name)
    {
        if (current.Enabled && name == RootUser) throw EtcdErrors.InvalidAuthManagement.ToException();
        if (!current.Users.ContainsKey(name)) throw EtcdErrors.UserNotFound.ToException();
        Commit(batch, current.With(users: current.Users.Remove(name)));
        batch.DeleteMeta(BackendMeta.AuthUserPrefix + name);
        Tokens.InvalidateUser(name);
        return new AuthUserDeleteResponse();
    }

    private IMessage UserChangePassword(ApplyBatch batch, State current, AuthUserChangePasswordRequest request)
    {
        var user = current.Users.GetValueOrDefault(request.Name)?.Clone() ?? throw EtcdErrors.UserNotFound.ToException();
        user.Password = ByteString.CopyFromUtf8(request.HashedPassword);
        PutUser(batch, current, user);
        Tokens.InvalidateUser(request.Name);
        return new AuthUserChangePasswordResponse();
    }

    private IMessage UserGrantRole(ApplyBatch batch, State current, AuthUserGrantRoleRequest request)
    {
        var user = current.Users.GetValueOrDefault(request.User)?.Clone() ?? throw EtcdErrors.UserNotFound.ToException();
        if (request.Role != RootRole && !current.Roles.ContainsKey(request.Role)) throw EtcdErrors.RoleNotFound.ToException();
        if (user.Roles.Contains(request.Role)) return new AuthUserGrantRoleResponse(); // already granted: nothing changes, as etcd
        var roles = user.Roles.Append(request.Role).Order(StringComparer.Ordinal).ToList();
        user.Roles.Clear();
        user.Roles.AddRange(roles);
        PutUser(batch, current, user);
        return new AuthUserGrantRoleResponse();
    }

    private IMessage UserRevokeRole(ApplyBatch batch, State current, AuthUserRevokeRoleRequest request)
    {
        if (current.Enabled && request.Name == RootUser && request.Role == RootRole) throw EtcdErrors.InvalidAuthManagement.ToException();
        var user = current.Users.GetValueOrDefault(request.Name)?.Clone() ?? throw EtcdErrors.UserNotFound.ToException();
        if (!user.Roles.Remove(request.Role)) throw EtcdErrors.RoleNotGranted.ToException();
        PutUser(batch, current, user);
        return new AuthUserRevokeRoleResponse();
    }

    private IMessage RoleAdd(ApplyBatch batch, State current, string name)
    {
        if (name.Length == 0) throw EtcdErrors.RoleEmpty.ToException();
        if (current.Roles.ContainsKey(name)) throw EtcdErrors.RoleAlreadyExist.ToException();
        PutRole(batch, current, new Role { Name = ByteString.CopyFromUtf8(name) });
        return new AuthRoleAddResponse();
    }

    private IMessage RoleDelete(ApplyBatch batch, State current, string name)
    {
        if (current.Enabled && name == RootRole) throw EtcdErrors.InvalidAuthManagement.ToException();
        if (!current.Roles.ContainsKey(name)) throw EtcdErrors.RoleNotFound.ToException();
        var users = current.Users;
        foreach (var (userName, user) in current.Users.Where(pair => pair.Value.Roles.Contains(name)))
        {
            var changed = user.Clone();
            changed.Roles.Remove(name);
            users = users.SetItem(userName, changed);
            batch.SetMeta(BackendMeta.AuthUserPrefix + userName, changed.ToByteArray());
        }
        Commit(batch, current.With(users: users, roles: current.Roles.Remove(name)));
        batch.DeleteMeta(BackendMeta.AuthRolePrefix + name);
        return new AuthRoleDeleteResponse();
    }

    private IMessage RoleGrantPermission(ApplyBatch batch, State current, AuthRoleGrantPermissionRequest request)
    {
        var role = current.Roles.GetValueOrDefault(request.Name)?.Clone() ?? throw EtcdErrors.RoleNotFound.ToException();
        var permission = request.Perm ?? throw EtcdErrors.PermissionNotGiven.ToException();
        if (!IsValidRange(permission.Key, permission.RangeEnd)) throw EtcdErrors.InvalidAuthManagement.ToException();
        var same = role.KeyPermission.FirstOrDefault(p => p.Key == permission.Key && p.RangeEnd == permission.RangeEnd);
        if (same is not null)
        {
            same.PermType = permission.PermType;
        }
        else
        {
            var sorted = role.KeyPermission.Append(permission.Clone())
                .OrderBy(p => p.Key, ByteStringOrder.Instance).ThenBy(p => p.RangeEnd, ByteStringOrder.Instance).ToList();
            role.KeyPermission.Clear();
            role.KeyPermission.AddRange(sorted);
        }
        PutRole(batch, current, role);
        return new AuthRoleGrantPermissionResponse();
    }

    private IMessage RoleRevokePermission(ApplyBatch batch, State current, AuthRoleRevokePermissionRequest request)
    {
        var role = current.Roles.GetValueOrDefault(request.Role)?.Clone() ?? throw EtcdErrors.RoleNotFound.ToException();
        var granted = role.KeyPermission.FirstOrDefault(p => p.Key == request.Key && p.RangeEnd == request.RangeEnd)
            ?? throw EtcdErrors.PermissionNotGranted.ToException();
        role.KeyPermission.Remove(granted);
        PutRole(batch, current, role);
        return new AuthRoleRevokePermissionResponse();
    }

    /// <summary>etcd's check of a granted range: a key is needed, and an end (other than <c>"\0"</c>) must lie after it.</summary>
    private static bool IsValidRange(ByteString key, ByteString rangeEnd)
    {
        if (key.IsEmpty) return false;
        if (rangeEnd.IsEmpty || rangeEnd.Span is [0]) return true;
        return key.Span.SequenceCompareTo(rangeEnd.Span) < 0;
    }

    private void PutUser(ApplyBatch batch, State current, User user)
    {
        var name = user.Name.ToStringUtf8();
        Commit(batch, current.With(users: current.Users.SetItem(name, user)));
        batch.SetMeta(BackendMeta.AuthUserPrefix + name, user.ToByteArray());
    }

    private void PutRole(ApplyBatch batch, State current, Role role)
    {
        var name = role.Name.ToStringUtf8();
        Commit(batch, current.With(roles: current.Roles.SetItem(name, role)));
        batch.SetMeta(BackendMeta.AuthRolePrefix + name, role.ToByteArray());
    }

    private void Commit(ApplyBatch batch, State next)
    {
        batch.SetMeta(BackendMeta.AuthRevision, BackendMeta.Number(next.Revision));
        state = next;
    }

    /// <summary>Loads the auth state a backend holds (at start, and after a snapshot from the leader replaced it).</summary>
    public void Restore(MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var enabled = store.ReadMeta(BackendMeta.AuthEnabled) is [1];
        var revision = BackendMeta.ReadNumber(store, BackendMeta.AuthRevision) ?? State.Initial.Revision;
        var users = ImmutableSortedDictionary.CreateBuilder<string, User>(StringComparer.Ordinal);
        foreach (var (name, value) in store.ReadMetaPrefix(BackendMeta.AuthUserPrefix)) users[name[BackendMeta.AuthUserPrefix.Length..]] = User.Parser.ParseFrom(value);
        var roles = ImmutableSortedDictionary.CreateBuilder<string, Role>(StringComparer.Ordinal);
        foreach (var (name, value) in store.ReadMetaPrefix(BackendMeta.AuthRolePrefix)) roles[name[BackendMeta.AuthRolePrefix.Length..]] = Role.Parser.ParseFrom(value);
        state = new State(enabled, revision, users.ToImmutable(), roles.ToImmutable());
        Tokens.Clear();
    }

    private sealed class ByteStringOrder : IComparer<ByteString>
    {
        public static readonly ByteStringOrder Instance = new();
        public int Compare(ByteString? x, ByteString? y) => x!.Span.SequenceCompareTo(y!.Span);
    }
}
