using System.Buffers;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using HttpKv.Api.Gateway;
using Mvccpb;

namespace HttpKv.Tests.Api;

/// <summary>The gateway's one-pass JSON paths against the general ones they shortcut (the reflection writer and
/// reader): the same bytes out, the same message (or the same refusal, word for word) in.</summary>
public sealed class GatewayJsonTests
{
    private static byte[] Written(IMessage message)
    {
        var output = new ArrayBufferWriter<byte>(16);
        GatewayJson.WriteResponse(message, output);
        return output.WrittenSpan.ToArray();
    }

    private static void AssertSameAsFormatter(IMessage message)
    {
        var general = new ArrayBufferWriter<byte>(16);
        ProtoJsonWriter.WriteMessage(message, general);
        Assert.Equal(Encoding.UTF8.GetString(general.WrittenSpan), Encoding.UTF8.GetString(Written(message)));
    }

    private static ByteString RandomBytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(maxLength + 1)];
        random.NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    private static long RandomLong(Random random) => random.Next(4) switch
    {
        0 => 0,
        1 => random.NextInt64(1, 1000),
        2 => -random.NextInt64(1, long.MaxValue),
        _ => random.Next(2) == 0 ? long.MaxValue : long.MinValue,
    };

    private static ulong RandomULong(Random random) => random.Next(3) switch
    {
        0 => 0,
        1 => (ulong)random.NextInt64(1, 1000),
        _ => ulong.MaxValue - (ulong)random.Next(1000),
    };

    private static ResponseHeader? RandomHeader(Random random) => random.Next(4) == 0 ? null : new ResponseHeader
    {
        ClusterId = RandomULong(random), MemberId = RandomULong(random), Revision = RandomLong(random), RaftTerm = RandomULong(random),
    };

    private static KeyValue RandomKv(Random random) => new()
    {
        Key = RandomBytes(random, 40), Value = RandomBytes(random, 300), CreateRevision = RandomLong(random),
        ModRevision = RandomLong(random), Version = RandomLong(random), Lease = RandomLong(random),
    };

    [Fact]
    public void The_kv_answers_are_written_byte_for_byte_as_the_reflection_writer_writes_them()
    {
        var random = new Random(8);
        AssertSameAsFormatter(new RangeResponse());
        AssertSameAsFormatter(new PutResponse());
        AssertSameAsFormatter(new DeleteRangeResponse());
        AssertSameAsFormatter(new RangeResponse { Header = new ResponseHeader() });
        AssertSameAsFormatter(new PutResponse { PrevKv = new KeyValue() });
        for (var round = 0; round < 300; round++)
        {
            var range = new RangeResponse { Header = RandomHeader(random), More = random.Next(2) == 0, Count = RandomLong(random) };
            for (var i = random.Next(4); i > 0; i--) range.Kvs.Add(RandomKv(random));
            AssertSameAsFormatter(range);
            AssertSameAsFormatter(new PutResponse { Header = RandomHeader(random), PrevKv = random.Next(2) == 0 ? RandomKv(random) : null });
            var delete = new DeleteRangeResponse { Header = RandomHeader(random), Deleted = RandomLong(random) };
            for (var i = random.Next(3); i > 0; i--) delete.PrevKvs.Add(RandomKv(random));
            AssertSameAsFormatter(delete);
        }
    }

    [Fact]
    public void Other_answers_are_written_compact_in_declaration_order_with_zero_values_left_out()
    {
        var grant = new LeaseGrantResponse { Header = new ResponseHeader { Revision = 3 }, ID = 7, TTL = 60 };
        Assert.Equal("""{"header":{"revision":"3"},"ID":"7","TTL":"60"}""", ProtoJsonWriter.Format(grant));
        Assert.Equal("{}", ProtoJsonWriter.Format(new RangeResponse()));
        Assert.Equal("""{"header":{}}""", ProtoJsonWriter.Format(new PutResponse { Header = new ResponseHeader() }));
    }

    private static string Outcome<TRequest>(Func<TRequest> read) where TRequest : IMessage<TRequest>
    {
        try
        {
            return "ok " + read();
        }
        catch (Exception exception)
        {
            return "failed " + exception.GetType().Name + ": " + exception.Message;
        }
    }

    /// <summary>ReadRequest (which takes the one-pass reader when it can) and the general reader alone agree.</summary>
    private static void AssertReadsAsGeneral<TRequest>(string body) where TRequest : IMessage<TRequest>, new()
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Equal(Outcome(() => General<TRequest>(bytes)), Outcome(() => GatewayJson.ReadRequest<TRequest>(bytes)));
    }

    private static TRequest General<TRequest>(byte[] body) where TRequest : IMessage<TRequest>, new() =>
        GoJson.TryReadFirstValue(body, out var start, out var end) ? ProtoJsonReader.Read<TRequest>(body.AsSpan(start..end)) : new TRequest();

    private static readonly string[] Bodies =
    [
        """{"key":"Zm9v","value":"YmFy"}""",
        """{"key":"Zm9v","value":"YmFy","lease":"7587869125946210314","prev_kv":true,"ignore_value":false,"ignore_lease":true}""",
        """{"key":"Zm9v","lease":7587869125946210314}""",
        """{"key":"Zm9v","lease":-5}""",
        """{"key":"Zm9v","lease":"-0"}""",
        """{"key":"Zm9v","lease":"007"}""",
        """{"key":"Zm9v","lease":1.0}""",
        """{"key":"Zm9v","lease":1e3}""",
        """{"key":"Zm9v","lease":"1e3"}""",
        """{"key":"Zm9v","lease":"+5"}""",
        """{"key":"Zm9v","lease":"99999999999999999999"}""",
        """{"key":"Zm9v","lease":null}""",
        """{"key":"Zm9v","lease":true}""",
        """{"key":"Zm9","value":"YmFy"}""",
        """{"key":"Zm 9v","value":"YmFy"}""",
        """{"key":"Zm9v-_","value":"YmFy"}""",
        """{"key":"Zm9v\u003d","value":"YmFy"}""",
        """{"key":"QR==","value":"YmE="}""",
        """{"key":"","value":""}""",
        """{"key":"Zm9v","key":"YmFy"}""",
        """{"key":"Zm9v","prevKv":true,"ignoreLease":true,"ignoreValue":true}""",
        """{"key":"Zm9v","prev_kv":"true"}""",
        """{"key":"Zm9v","unknown":{"a":[1,2]}}""",
        """{"key":"Zm9v"} trailing""",
        """{"key":"Zm9v"}{"key":"YmFy"}""",
        """{"key":"Zm9v",}""",
        """{"key":"Zm9v" """,
        """[1,2]""",
        """null""",
        "\"text\" ",
        """{"key":"Zm9v","range_end":"AA==","limit":"10","revision":3,"sort_order":"DESCEND","sort_target":"MOD","serializable":true,"keys_only":true,"count_only":false}""",
        """{"key":"Zm9v","rangeEnd":"AA==","sortOrder":"ASCEND","sortTarget":"VALUE","keysOnly":true,"countOnly":true}""",
        """{"key":"Zm9v","sort_order":2,"sort_target":"CREATE"}""",
        """{"key":"Zm9v","sort_order":"SIDEWAYS"}""",
        """{"key":"Zm9v","min_mod_revision":"1","max_mod_revision":"9","min_create_revision":2,"max_create_revision":"8"}""",
        """{"key":"Zm9v","minModRevision":1,"maxModRevision":9,"minCreateRevision":2,"maxCreateRevision":8}""",
        """{"key":"Zm9v","limit":-1}""",
        """  {"key" : "Zm9v" , "value" : "YmFy" }  """,
    ];

    [Fact]
    public void The_one_pass_reader_takes_the_usual_bodies()
    {
        Assert.True(GatewayJsonReader.TryRead<PutRequest>(Encoding.UTF8.GetBytes(Bodies[1]), out var put));
        Assert.Equal(7587869125946210314, put.Lease);
        Assert.True(GatewayJsonReader.TryRead<RangeRequest>(Encoding.UTF8.GetBytes(Bodies[30]), out var range));
        Assert.Equal(RangeRequest.Types.SortTarget.Mod, range.SortTarget);
        Assert.False(GatewayJsonReader.TryRead<PutRequest>(Encoding.UTF8.GetBytes(Bodies[22]), out _)); // an unknown field
        Assert.False(GatewayJsonReader.TryRead<LeaseGrantRequest>("{}"u8, out _));
    }

    [Fact]
    public void The_one_pass_reader_reads_put_and_range_bodies_as_the_general_reader()
    {
        foreach (var body in Bodies)
        {
            AssertReadsAsGeneral<PutRequest>(body);
            AssertReadsAsGeneral<RangeRequest>(body);
        }
        var random = new Random(8);
        string[] names = ["key", "value", "lease", "prev_kv", "prevKv", "range_end", "limit", "revision", "sort_order", "keys_only", "other"];
        string[] values = ["\"Zm9v\"", "\"YmFyYg==\"", "\"\"", "\"12\"", "12", "-3", "0", "\"0\"", "true", "false", "null", "\"ASCEND\"", "\"KEY\"", "1.5", "{}", "[]"];
        for (var round = 0; round < 2000; round++)
        {
            var fields = Enumerable.Range(0, random.Next(5))
                .Select(_ => $"\"{names[random.Next(names.Length)]}\":{values[random.Next(values.Length)]}");
            var body = "{" + string.Join(",", fields) + "}";
            AssertReadsAsGeneral<PutRequest>(body);
            AssertReadsAsGeneral<RangeRequest>(body);
        }
    }

    [Fact]
    public void A_large_value_is_read_whole()
    {
        var value = new byte[100_000];
        new Random(1).NextBytes(value);
        var put = GatewayJson.ReadRequest<PutRequest>(Encoding.UTF8.GetBytes($$"""{"key":"Zm9v","value":"{{Convert.ToBase64String(value)}}"}"""));
        Assert.Equal(value, put.Value.ToByteArray());
    }
}
