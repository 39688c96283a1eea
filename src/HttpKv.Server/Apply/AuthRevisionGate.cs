using HttpKv.Mvcc;
using HttpKv.Protocol.Internal;
using HttpKv.Server.Auth;

namespace HttpKv.Server.Apply;

/// <summary>etcd's auth applier for key writes: a put, delete or transaction whose caller was authorized at an auth
/// revision older than the store's (a user or role changed since) is refused with "etcdserver: revision of auth store
/// is old" and goes no further, so that a permission taken away between the check and the apply is honoured.</summary>
public sealed class AuthRevisionGate(AuthStore auth, IApplier next) : IApplier
{
    public object Apply(ApplyBatch batch, ulong index, LogRequest request)
    {
        if (!KeyApplier.IsKeyWrite(request) || auth.CheckAtApply(request.AuthRevision) is not { } refused)
        {
            return next.Apply(batch, index, request);
        }
        batch.MarkApplied(index);
        return refused.ToException();
    }
}
