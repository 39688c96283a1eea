using Grpc.Core;

namespace HttpKv.Protocol;

/// <summary>An error a client of etcd can see: etcd's exact text (clients match on it) and its gRPC code.
/// The HTTP status of the JSON gateway follows from the code (see HttpKv.Api's error mapping).</summary>
public sealed record EtcdError(string Message, StatusCode Code)
{
    /// <summary>The gateway's HTTP status when it is not the one <see cref="Code"/> maps to: etcd's lock and election
    /// services relay every error as code Unknown (HTTP 500 on etcd's gateway); HttpKv keeps that code and text but
    /// answers a client's mistake with a 4xx (docs/decisions.md).</summary>
    public int? HttpStatus { get; init; }

    public EtcdException ToException() => new(this);
}

/// <summary>Raised for an operating error with an etcd-defined answer. Never for a programmer error.
/// It is a gRPC status error, as etcd's own errors are (rpctypes): a gRPC call that raises one ends with its code
/// and text and needs no mapping; the JSON doors catch it and write etcd's error body.</summary>
public sealed class EtcdException(EtcdError error) : RpcException(new Status(error.Code, error.Message), error.Message)
{
    public EtcdError Error { get; } = error;
}

/// <summary>The one catalogue of etcd's client-visible errors (texts from etcd's rpctypes).</summary>
public static class EtcdErrors
{
    /// <summary>The HTTP status etcd's JSON gateway gives a gRPC code (grpc-gateway's mapping, which etcd 3.5 serves).</summary>
    public static int GatewayHttpStatus(StatusCode code) => code switch
    {
        StatusCode.OK => 200,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => 400,
        StatusCode.DeadlineExceeded => 504,
        StatusCode.NotFound => 404,
        StatusCode.AlreadyExists or StatusCode.Aborted => 409,
        StatusCode.PermissionDenied => 403,
        StatusCode.Unauthenticated => 401,
        StatusCode.ResourceExhausted => 429,
        StatusCode.Unimplemented => 501,
        StatusCode.Unavailable => 503,
        _ => 500,
    };

    public static readonly EtcdError EmptyKey = new("etcdserver: key is not provided", StatusCode.InvalidArgument);
    public static readonly EtcdError KeyNotFound = new("etcdserver: key not found", StatusCode.InvalidArgument);
    public static readonly EtcdError ValueProvided = new("etcdserver: value is provided", StatusCode.InvalidArgument);
    public static readonly EtcdError LeaseProvided = new("etcdserver: lease is provided", StatusCode.InvalidArgument);
    public static readonly EtcdError TooManyOps = new("etcdserver: too many operations in txn request", StatusCode.InvalidArgument);
    public static readonly EtcdError DuplicateKey = new("etcdserver: duplicate key given in txn request", StatusCode.InvalidArgument);
    public static readonly EtcdError RequestTooLarge = new("etcdserver: request is too large", StatusCode.InvalidArgument);
    public static readonly EtcdError Compacted = new("etcdserver: mvcc: required revision has been compacted", StatusCode.OutOfRange);
    public static readonly EtcdError FutureRevision = new("etcdserver: mvcc: required revision is a future revision", StatusCode.OutOfRange);
    public static readonly EtcdError NoSpace = new("etcdserver: mvcc: database space exceeded", StatusCode.ResourceExhausted);
    public static readonly EtcdError LeaseNotFound = new("etcdserver: requested lease not found", StatusCode.NotFound);
    public static readonly EtcdError LeaseExists = new("etcdserver: lease already exists", StatusCode.FailedPrecondition);
    public static readonly EtcdError LeaseTtlTooLarge = new("etcdserver: too large lease TTL", StatusCode.OutOfRange);
    public static readonly EtcdError NoLeader = new("etcdserver: no leader", StatusCode.Unavailable);
    public static readonly EtcdError LeaderChanged = new("etcdserver: leader changed", StatusCode.Unavailable);
    public static readonly EtcdError Stopped = new("etcdserver: server stopped", StatusCode.Unavailable);
    public static readonly EtcdError Timeout = new("etcdserver: request timed out", StatusCode.Unavailable);
    public static readonly EtcdError TimeoutDueToConnectionLost = new("etcdserver: request timed out, possibly due to connection lost", StatusCode.Unavailable);
    public static readonly EtcdError TimeoutWaitAppliedIndex = new("etcdserver: request timed out, waiting for the applied index took too long", StatusCode.Unavailable);
    public static readonly EtcdError TooManyRequests = new("etcdserver: too many requests", StatusCode.ResourceExhausted);
    public static readonly EtcdError Corrupt = new("etcdserver: corrupt cluster", StatusCode.DataLoss);
    public static readonly EtcdError InvalidDowngradeTargetVersion = new("etcdserver: invalid downgrade target version", StatusCode.InvalidArgument);
    public static readonly EtcdError NoInflightDowngrade = new("etcdserver: no inflight downgrade job", StatusCode.FailedPrecondition);
    public static readonly EtcdError RootUserNotExist = new("etcdserver: root user does not exist", StatusCode.FailedPrecondition);
    public static readonly EtcdError RootRoleNotExist = new("etcdserver: root user does not have root role", StatusCode.FailedPrecondition);
    public static readonly EtcdError UserAlreadyExist = new("etcdserver: user name already exists", StatusCode.FailedPrecondition);
    public static readonly EtcdError UserEmpty = new("etcdserver: user name is empty", StatusCode.InvalidArgument);
    public static readonly EtcdError UserNotFound = new("etcdserver: user name not found", StatusCode.FailedPrecondition);
    public static readonly EtcdError RoleAlreadyExist = new("etcdserver: role name already exists", StatusCode.FailedPrecondition);
    public static readonly EtcdError RoleNotFound = new("etcdserver: role name not found", StatusCode.FailedPrecondition);
    public static readonly EtcdError RoleEmpty = new("etcdserver: role name is empty", StatusCode.InvalidArgument);
    public static readonly EtcdError AuthFailed = new("etcdserver: authentication failed, invalid user ID or password", StatusCode.InvalidArgument);
    public static readonly EtcdError PermissionNotGiven = new("etcdserver: permission not given", StatusCode.InvalidArgument);
    public static readonly EtcdError PermissionDenied = new("etcdserver: permission denied", StatusCode.PermissionDenied);
    public static readonly EtcdError RoleNotGranted = new("etcdserver: role is not granted to the user", StatusCode.FailedPrecondition);
    public static readonly EtcdError PermissionNotGranted = new("etcdserver: permission is not granted to the role", StatusCode.FailedPrecondition);
    public static readonly EtcdError AuthNotEnabled = new("etcdserver: authentication is not enabled", StatusCode.FailedPrecondition);
    public static readonly EtcdError InvalidAuthToken = new("etcdserver: invalid auth token", StatusCode.Unauthenticated);
    public static readonly EtcdError InvalidAuthManagement = new("etcdserver: invalid auth management", StatusCode.InvalidArgument);
    public static readonly EtcdError AuthOldRevision = new("etcdserver: revision of auth store is old", StatusCode.InvalidArgument);
    public static readonly EtcdError NotCapable = new("etcdserver: not capable", StatusCode.Unavailable);
    public static readonly EtcdError NotSupportedForLearner = new("etcdserver: rpc not supported for learner", StatusCode.Unavailable);

    // membership and leadership
    public static readonly EtcdError MemberNotFound = new("etcdserver: member not found", StatusCode.NotFound);
    public static readonly EtcdError PeerUrlExists = new("etcdserver: Peer URLs already exists", StatusCode.FailedPrecondition);
    public static readonly EtcdError MemberNotLearner = new("etcdserver: can only promote a learner member", StatusCode.FailedPrecondition);
    public static readonly EtcdError TooManyLearners = new("etcdserver: too many learner members in cluster", StatusCode.FailedPrecondition);
    public static readonly EtcdError MemberBadUrls = new("etcdserver: given member URLs are invalid", StatusCode.InvalidArgument);
    public static readonly EtcdError Unhealthy = new("etcdserver: unhealthy cluster", StatusCode.Unavailable);
    public static readonly EtcdError NotEnoughStartedMembers = new("etcdserver: re-configuration failed due to not enough started members", StatusCode.FailedPrecondition);
    public static readonly EtcdError LearnerNotReady = new("etcdserver: can only promote a learner member which is in sync with leader", StatusCode.FailedPrecondition);
    public static readonly EtcdError NotLeader = new("etcdserver: not leader", StatusCode.FailedPrecondition);
    public static readonly EtcdError BadLeaderTransferee = new("etcdserver: bad leader transferee", StatusCode.FailedPrecondition);
    public static readonly EtcdError InvalidSortOption = new("etcdserver: invalid sort option", StatusCode.InvalidArgument);

    // etcd's lock and election services (v3lock, v3election), whose errors reach clients with code Unknown; the
    // gateway's status is a 4xx for a client's mistake (docs/decisions.md)
    public static readonly EtcdError ElectionNotLeader = new("election: not leader", StatusCode.Unknown) { HttpStatus = 400 };
    public static readonly EtcdError ElectionNoLeader = new("election: no leader", StatusCode.Unknown) { HttpStatus = 404 };
    public static readonly EtcdError MissingLeaderKey = new("\"leader\" field must be provided", StatusCode.Unknown) { HttpStatus = 400 };

    // HttpKv's own, where etcd has no counterpart: its SSE watch streams (/v3/watch/sse, /api/v1/watch) and a log
    // entry of an auth request this build does not know (written by a newer member).
    public static readonly EtcdError UnknownAuthRequest = new("etcdserver: unknown auth request", StatusCode.InvalidArgument);
    public static readonly EtcdError KeyBase64Invalid = new("key_base64 is not valid base64", StatusCode.InvalidArgument);
    public static readonly EtcdError StartRevisionNegative = new("start revision must be 0 (from now) or a revision", StatusCode.InvalidArgument);
    public static readonly EtcdError LastEventIdInvalid = new("Last-Event-ID is not a revision", StatusCode.InvalidArgument);
}
