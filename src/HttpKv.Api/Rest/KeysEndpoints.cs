using System.Globalization;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using HttpKv.Protocol;
using HttpKv.Server;
using HttpKv.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace HttpKv.Api.Rest;

/// <summary>A key with its metadata as the REST API shows it (see <see cref="KeyText"/> for the encodings). Revisions
/// are numbers; the lease ID is a decimal string, since lease IDs pass what a JavaScript number holds exactly.</summary>
public sealed record RestKeyValue(string Key, string KeyEncoding, string? Value, string? ValueEncoding,
    long CreateRevision, long ModRevision, long Version, string Lease);

/// <summary>A page of keys: <see cref="Next"/> is the URL of the next page (same revision), null on the last.</summary>
public sealed record RestKeyList(long Revision, IReadOnlyList<RestKeyValue> Keys, bool More, string? Next);

/// <summary>The outcome of a write: the store's revision after it (the key's new mod revision for a put).</summary>
public sealed record RestWriteResult(string Key, string KeyEncoding, long Revision, long? Deleted);

/// <summary>One version of a key; <see cref="Deleted"/> marks the delete that ended a generation.</summary>
public sealed record RestKeyVersion(long ModRevision, long CreateRevision, long Version, string? Value, string? ValueEncoding, string Lease, bool Deleted);

/// <summary>One change as the REST watch stream sends it: <see cref="Type"/> is <c>put</c> or <c>delete</c> (a delete's
/// key-value holds the key and the delete's mod revision only).</summary>
public sealed record RestWatchEvent(string Type, RestKeyValue Kv, RestKeyValue? PrevKv);

/// <summary>Every version of a key still held (compaction removes older ones), oldest first.</summary>
public sealed record RestKeyHistory(string Key, string KeyEncoding, long Revision, long CompactRevision, IReadOnlyList<RestKeyVersion> Versions);

/// <summary>
/// A key API for people and curl (<c>/api/v1/keys</c>): the value is the body, the mod revision is the ETag, and
/// <c>If-Match</c> / <c>If-None-Match</c> make compare-and-swap and create-only writes. Every call is built as an
/// etcd request (Range, Put, DeleteRange, Txn) and goes through the same learner check and <see cref="Authorizer"/>
/// as the /v3 routes and gRPC, so permissions are the same whichever door is used. Errors are RFC 9457 problem
/// details with etcd's error text in <c>detail</c> and its gRPC code in <c>code</c>.
/// </summary>
public static class KeysEndpoints
{
    public const string KeysPath = "/api/v1/keys";
    private const int DefaultLimit = 100;
    private const int MaxLimit = 1000;

    private const string KeyRules = "The key is the rest of the path, percent-decoded to bytes: `%XX` is any byte (`%2F` and `/` are both a slash, " +
        "`%25` is a percent sign, `%FF` the byte 0xFF), other characters their UTF-8 bytes. In query values `+` is a space (write `%2B` for a plus). " +
        "JSON shows bytes that are valid UTF-8 as text (`…Encoding: \"utf-8\"`) and any others as base64 (`\"base64\"`).";

    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1").WithTags("Keys");
        keys.MapGet("/keys/{**key}", GetAsync)
            .WithSummary("Reads a key: its value as the body, or its metadata (?format=json), or its history (?revisions=true)")
            .WithDescription(KeyRules + " `ETag` is the key's mod revision; `?rev=N` reads at an older revision; `If-None-Match: \"rev\"` answers 304 when unchanged.")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces<RestKeyValue>(StatusCodes.Status200OK, "application/json")
            .Produces<RestKeyHistory>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status400BadRequest);
        keys.MapPut("/keys/{**key}", PutAsync)
            .WithSummary("Writes a key: the body is the value")
            .WithDescription(KeyRules + " `If-Match: \"rev\"` writes only if the key's mod revision is still `rev` (compare-and-swap); `If-Match: *` only if the key exists; " +
                "`If-None-Match: *` only if it does not (create). A failed condition answers 412 with the key's current revision. `?lease=ID` (decimal) attaches a lease.")
            .Accepts<byte[]>("application/octet-stream", "*/*")
            .Produces<RestWriteResult>()
            .ProducesProblem(StatusCodes.Status412PreconditionFailed).ProducesProblem(StatusCodes.Status400BadRequest);
        keys.MapDelete("/keys/{**key}", DeleteAsync)
            .WithSummary("Deletes a key, or every key under a prefix (?prefix=true)")
            .WithDescription(KeyRules + " `If-Match: \"rev\"` deletes only if the key's mod revision is still `rev`. Deleting a key that does not exist answers 404.")
            .Produces<RestWriteResult>()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        keys.MapGet("/keys", ListAsync)
            .WithSummary("Lists keys with their metadata, a page at a time")
            .WithDescription(KeyRules + $" `?prefix=` keys starting with it (all keys when absent), `?after=` keys after this one (the cursor), " +
                $"`?limit=` page size (default {DefaultLimit}, at most {MaxLimit}), `?rev=` at a revision; `next` is the next page's URL, pinned to the first page's revision.")
            .Produces<RestKeyList>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        app.MapGroup("/api/v1").WithTags("Watch").MapGet("/watch", WatchAsync)
            .WithSummary("Watches a key (?key=) or every key under a prefix (?prefix=) as Server-Sent Events")
            .WithDescription(KeyRules + " One event per change: `event: put` or `event: delete`, `data:` a RestWatchEvent; `id:` is the change's " +
                "revision (on the last event of a revision), so a reconnect with `Last-Event-ID` resumes without loss or repetition (browsers' " +
                "EventSource does this by itself). `?startRevision=N` replays from revision N, `?prevKv=true` adds the previous version. " +
                "A compacted start ends the stream with `event: compacted`. `: heartbeat` comments every 15 s.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .Produces<RestWatchEvent>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return app;
    }

    private static async Task WatchAsync(HttpContext context, MemberHost host, long? startRevision, bool? prevKv,
        [Microsoft.AspNetCore.Mvc.FromHeader(Name = "Last-Event-ID")] string? lastEventId)
    {
        byte[]? key, prefix;
        try
        {
            key = KeyText.QueryBytes(context.Request.QueryString.Value, "key");
            prefix = KeyText.QueryBytes(context.Request.QueryString.Value, "prefix");
        }
        catch (FormatException exception)
        {
            await Problem(StatusCodes.Status400BadRequest, "Bad query", exception.Message).ExecuteAsync(context);
            return;
        }
        if ((key is null) == (prefix is null))
        {
            await Problem(StatusCodes.Status400BadRequest, "Bad query", "give either ?key= (one key) or ?prefix= (every key under it; empty: all keys)").ExecuteAsync(context);
            return;
        }
        await Gateway.WatchGatewayEndpoints.StreamSseAsync(context, host, prefix ?? key!, prefix is not null, startRevision ?? 0, prevKv ?? false,
            lastEventId, FormatEvent, (http, error) => Problem(error).ExecuteAsync(http));
    }

    private static string FormatEvent(Mvccpb.Event change)
    {
        var put = change.Type == Mvccpb.Event.Types.EventType.Put;
        return System.Text.Json.JsonSerializer.Serialize(
            new RestWatchEvent(put ? "put" : "delete", Show(change.Kv, withValue: put), change.PrevKv is null ? null : Show(change.PrevKv, withValue: true)),
            System.Text.Json.JsonSerializerOptions.Web);
    }

    private static async Task<IResult> GetAsync(HttpContext context, IKvService kv, IKeyHistoryService history, string? format, long? rev, bool? revisions, int? limit)
    {
        if (!TryKey(context, out var key, out var problem)) return problem;
        if (revisions == true)
        {
            var probe = new RangeRequest { Key = key };
            return await CallAsync(context, probe, async () =>
            {
                var found = await history.HistoryAsync(key, Math.Clamp(limit ?? MaxLimit, 1, MaxLimit), context.RequestAborted);
                if (found.Versions.Count == 0) return NotFound(key);
                var (keyText, keyEncoding) = KeyText.Show(key);
                return TypedResults.Ok(new RestKeyHistory(keyText, keyEncoding, found.Header.Revision, found.CompactRevision,
                    [.. found.Versions.Select(Version)]));
            });
        }
        var request = new RangeRequest { Key = key, Revision = rev ?? 0 };
        return await CallAsync(context, request, async () =>
        {
            var range = await kv.RangeAsync(request, context.RequestAborted);
            if (range.Kvs.Count == 0) return NotFound(key);
            var found = range.Kvs[0];
            var etag = ETag(found.ModRevision);
            context.Response.Headers.ETag = etag;
            context.Response.Headers["X-Etcd-Revision"] = range.Header.Revision.ToString(CultureInfo.InvariantCulture);
            if (context.Request.Headers.IfNoneMatch.ToString() == etag) return TypedResults.StatusCode(StatusCodes.Status304NotModified);
            if (string.Equals(format, "json", StringComparison.OrdinalIgnoreCase)) return TypedResults.Ok(Show(found, withValue: true));
            return TypedResults.Bytes(found.Value.ToByteArray(), "application/octet-stream");
        });
    }

    private static async Task<IResult> PutAsync(HttpContext context, IKvService kv, MemberHost host, string? lease)
    {
        if (!TryKey(context, out var key, out var problem)) return problem;
        if (!TryCondition(context.Request, allowNoneMatch: true, out var condition, out problem)) return problem;
        long leaseId = 0;
        if (lease is not null && !long.TryParse(lease, NumberStyles.None, CultureInfo.InvariantCulture, out leaseId))
            return Problem(StatusCodes.Status400BadRequest, "Bad lease", $"lease '{lease}' is not a decimal lease ID");
        PutRequest put;
        using (var body = await RequestBody.ReadAsync(context, host.Options.MaxRequestBytes))
        {
            if (body is null) return Problem(EtcdErrors.RequestTooLarge);
            put = new PutRequest { Key = key, Value = ByteString.CopyFrom(body.Span), Lease = leaseId };
        }
        if (condition is null)
        {
            return await CallAsync(context, put, async caller => Written(context, key, (await kv.PutAsync(put, caller, context.RequestAborted)).Header.Revision, null));
        }
        var txn = Conditional(key, condition, new RequestOp { RequestPut = put });
        return await CallAsync(context, txn, async caller =>
        {
            var answer = await kv.TxnAsync(txn, caller, context.RequestAborted);
            return answer.Succeeded ? Written(context, key, answer.Header.Revision, null) : Failed(key, condition, answer);
        });
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, IKvService kv, bool? prefix)
    {
        if (!TryKey(context, out var key, out var problem)) return problem;
        if (!TryCondition(context.Request, allowNoneMatch: false, out var condition, out problem)) return problem;
        var delete = new DeleteRangeRequest { Key = key };
        if (prefix == true)
        {
            if (condition is not null) return Problem(StatusCodes.Status400BadRequest, "Bad condition", "If-Match applies to one key, not to a prefix");
            delete.RangeEnd = ByteString.CopyFrom(KeyText.PrefixEnd(key.Span));
        }
        if (condition is null)
        {
            return await CallAsync(context, delete, async caller =>
            {
                var answer = await kv.DeleteRangeAsync(delete, caller, context.RequestAborted);
                return answer.Deleted == 0 && prefix != true ? NotFound(key) : Written(context, key, answer.Header.Revision, answer.Deleted);
            });
        }
        var txn = Conditional(key, condition, new RequestOp { RequestDeleteRange = delete });
        return await CallAsync(context, txn, async caller =>
        {
            var answer = await kv.TxnAsync(txn, caller, context.RequestAborted);
            return answer.Succeeded
                ? Written(context, key, answer.Header.Revision, answer.Responses[0].ResponseDeleteRange.Deleted)
                : Failed(key, condition, answer);
        });
    }

    private static async Task<IResult> ListAsync(HttpContext context, IKvService kv, int? limit, long? rev)
    {
        byte[] prefix, after;
        try
        {
            prefix = KeyText.QueryBytes(context.Request.QueryString.Value, "prefix") ?? [];
            after = KeyText.QueryBytes(context.Request.QueryString.Value, "after") ?? [];
        }
        catch (FormatException exception)
        {
            return Problem(StatusCodes.Status400BadRequest, "Bad query", exception.Message);
        }
        var pageSize = limit ?? DefaultLimit;
        if (pageSize is < 1 or > MaxLimit) return Problem(StatusCodes.Status400BadRequest, "Bad limit", $"limit must be between 1 and {MaxLimit}");
        var start = prefix.Length == 0 ? [0] : prefix;
        if (after.Length > 0 && ((ReadOnlySpan<byte>)after).SequenceCompareTo(start) >= 0) start = [.. after, 0]; // the first key after the cursor
        var request = new RangeRequest
        {
            Key = ByteString.CopyFrom(start),
            RangeEnd = ByteString.CopyFrom(KeyText.PrefixEnd(prefix)),
            Limit = pageSize,
            Revision = rev ?? 0,
            KeysOnly = true,
        };
        return await CallAsync(context, request, async () =>
        {
            var range = await kv.RangeAsync(request, context.RequestAborted);
            var pinned = request.Revision > 0 ? request.Revision : range.Header.Revision; // the header always names the newest
            string? next = null;
            if (range.More)
            {
                next = $"{KeysPath}?prefix={KeyText.Encode(prefix, keepSlash: true)}&after={KeyText.Encode(range.Kvs[^1].Key.Span, keepSlash: true)}" +
                       $"&limit={pageSize}&rev={pinned}";
            }
            return TypedResults.Ok(new RestKeyList(pinned, [.. range.Kvs.Select(found => Show(found, withValue: false))], range.More, next));
        });
    }

    /// <summary>Runs a call as the /v3 routes do (<see cref="CallerCredentials.AdmitAsync(HttpContext, IMessage)"/>:
    /// learners refuse what they do not serve, the Authorizer checks the request as etcd would check it), and etcd's
    /// errors become problem details.</summary>
    internal static async Task<IResult> CallAsync(HttpContext context, Google.Protobuf.IMessage request, Func<Task<IResult>> call) =>
        await CallAsync(context, request, _ => call());

    /// <summary>As the other, for a call that writes on behalf of the caller it admitted.</summary>
    internal static async Task<IResult> CallAsync(HttpContext context, Google.Protobuf.IMessage request, Func<AuthInfo?, Task<IResult>> call)
    {
        try
        {
            return await call(await context.AdmitAsync(request));
        }
        catch (EtcdException exception)
        {
            return Problem(exception.Error);
        }
    }

    /// <summary>The key of the request target, percent-decoded to bytes (not the route value: ASP.NET decodes the path
    /// as UTF-8 text, which cannot carry every byte).</summary>
    private static bool TryKey(HttpContext context, out ByteString key, out IResult problem)
    {
        key = ByteString.Empty;
        problem = null!;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target)) target = context.Request.PathBase + context.Request.Path.ToUriComponent();
        var start = target.IndexOf(KeysPath + "/", StringComparison.Ordinal);
        var end = target.IndexOf('?', StringComparison.Ordinal);
        var encoded = start < 0 ? "" : target.AsSpan(start + KeysPath.Length + 1, (end < 0 ? target.Length : end) - start - KeysPath.Length - 1);
        try
        {
            key = ByteString.CopyFrom(KeyText.Decode(encoded, plusIsSpace: false));
        }
        catch (FormatException exception)
        {
            problem = Problem(StatusCodes.Status400BadRequest, "Bad key", exception.Message);
            return false;
        }
        if (key.IsEmpty)
        {
            problem = Problem(EtcdErrors.EmptyKey);
            return false;
        }
        return true;
    }

    /// <summary>The write condition of If-Match / If-None-Match: a mod revision, "exists" (<c>*</c>) or "absent".</summary>
    private sealed record Condition(long? ModRevision, bool MustExist, bool MustBeAbsent);

    private static bool TryCondition(HttpRequest request, bool allowNoneMatch, out Condition? condition, out IResult problem)
    {
        condition = null;
        problem = null!;
        var ifMatch = request.Headers.IfMatch.ToString().Trim();
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString().Trim();
        if (ifMatch.Length > 0 && ifNoneMatch.Length > 0)
        {
            problem = Problem(StatusCodes.Status400BadRequest, "Bad condition", "give If-Match or If-None-Match, not both");
            return false;
        }
        if (ifNoneMatch.Length > 0)
        {
            if (!allowNoneMatch || ifNoneMatch != "*")
            {
                problem = Problem(StatusCodes.Status400BadRequest, "Bad condition", "If-None-Match takes only * here (create the key only if it does not exist)");
                return false;
            }
            condition = new Condition(null, false, true);
            return true;
        }
        if (ifMatch.Length == 0) return true;
        if (ifMatch == "*")
        {
            condition = new Condition(null, true, false);
            return true;
        }
        if (EntityTagHeaderValue.TryParse(ifMatch, out var tag) && !tag.IsWeak &&
            long.TryParse(tag.Tag.AsSpan().Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture, out var revision) && revision > 0)
        {
            condition = new Condition(revision, false, false);
            return true;
        }
        problem = Problem(StatusCodes.Status400BadRequest, "Bad condition", $"If-Match must be one strong ETag such as \"42\" (a mod revision) or *, not {ifMatch}");
        return false;
    }

    /// <summary>A transaction doing <paramref name="write"/> if the condition holds, else reading the key (to say why not).</summary>
    private static TxnRequest Conditional(ByteString key, Condition condition, RequestOp write)
    {
        var compare = condition switch
        {
            { ModRevision: { } revision } => new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = revision },
            { MustExist: true } => new Compare { Key = key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Greater, Version = 0 },
            _ => new Compare { Key = key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 },
        };
        return new TxnRequest
        {
            Compare = { compare },
            Success = { write },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key, KeysOnly = true } } },
        };
    }

    private static IResult Failed(ByteString key, Condition condition, TxnResponse answer)
    {
        var current = answer.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        var (keyText, _) = KeyText.Show(key);
        var detail = condition switch
        {
            { ModRevision: { } revision } when current is null => $"key {keyText} does not exist (If-Match wanted mod revision {revision})",
            { ModRevision: { } revision } => $"key {keyText} was modified at revision {current!.ModRevision} (If-Match wanted {revision})",
            { MustExist: true } => $"key {keyText} does not exist",
            _ => $"key {keyText} already exists (mod revision {current?.ModRevision})",
        };
        return TypedResults.Problem(detail, statusCode: StatusCodes.Status412PreconditionFailed, title: "Precondition failed",
            extensions: new Dictionary<string, object?> { ["currentModRevision"] = current?.ModRevision, ["revision"] = answer.Header.Revision });
    }

    private static IResult Written(HttpContext context, ByteString key, long revision, long? deleted)
    {
        if (deleted is null) context.Response.Headers.ETag = ETag(revision);
        var (keyText, keyEncoding) = KeyText.Show(key);
        return TypedResults.Ok(new RestWriteResult(keyText, keyEncoding, revision, deleted));
    }

    private static RestKeyValue Show(Mvccpb.KeyValue found, bool withValue)
    {
        var (keyText, keyEncoding) = KeyText.Show(found.Key);
        var (valueText, valueEncoding) = withValue ? KeyText.Show(found.Value) : (null, null);
        return new RestKeyValue(keyText, keyEncoding, valueText, valueEncoding, found.CreateRevision, found.ModRevision, found.Version,
            found.Lease.ToString(CultureInfo.InvariantCulture));
    }

    private static RestKeyVersion Version(Mvccpb.Event change)
    {
        if (change.Type == Mvccpb.Event.Types.EventType.Delete)
            return new RestKeyVersion(change.Kv.ModRevision, 0, 0, null, null, "0", Deleted: true);
        var (valueText, valueEncoding) = KeyText.Show(change.Kv.Value);
        return new RestKeyVersion(change.Kv.ModRevision, change.Kv.CreateRevision, change.Kv.Version, valueText, valueEncoding,
            change.Kv.Lease.ToString(CultureInfo.InvariantCulture), Deleted: false);
    }

    private static string ETag(long modRevision) => $"\"{modRevision.ToString(CultureInfo.InvariantCulture)}\"";

    private static IResult NotFound(ByteString key) =>
        Problem(StatusCodes.Status404NotFound, "Not found", $"key {KeyText.Show(key).Text} not found");

    private static ProblemHttpResult Problem(EtcdError error) =>
        TypedResults.Problem(error.Message, statusCode: EtcdErrorMapping.HttpStatus(error), title: error.Code.ToString(),
            extensions: new Dictionary<string, object?> { ["code"] = (int)error.Code });

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(detail, statusCode: status, title: title);
}
