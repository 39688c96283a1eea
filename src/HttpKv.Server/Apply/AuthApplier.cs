using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Auth;

namespace HttpKv.Server.Apply;

/// <summary>Changes of users, roles and the auth switch, applied to the member's <see cref="AuthStore"/>.</summary>
public sealed class AuthApplier(AuthStore auth) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request) =>
        request.RequestCase == LogRequest.RequestOneofCase.Auth
            ? auth.Apply(batch, index, request.Auth)
            : throw new ArgumentException($"not an auth request: {request.RequestCase}", nameof(request));
}
