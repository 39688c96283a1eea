using System.Buffers;
using System.Text;
using Etcdserverpb;
using HttpKv.Api.Gateway;

namespace HttpKv.Tests.Api;

/// <summary>Go's encoding/json and encoding/base64 as etcd's gateway exposes them. The expected texts are what Go
/// printed for the same inputs (go1.19 on this machine, a json.Decoder reading one value, json.Unmarshal into the
/// typed value, json.Marshal of a string; escapes of \b and \f as go1.22, which builds etcd 3.5, writes them).</summary>
public sealed class GoJsonTests
{
    [Theory]
    [InlineData("{bad", "invalid character 'b' looking for beginning of object key string")]
    [InlineData("{\"a\":1,}", "invalid character '}' looking for beginning of object key string")]
    [InlineData("{\"a\" 1}", "invalid character '1' after object key")]
    [InlineData("{\"a\":1 \"b\"}", "invalid character '\"' after object key:value pair")]
    [InlineData("[1 2]", "invalid character '2' after array element")]
    [InlineData("{", "unexpected EOF")]
    [InlineData("{\"a\":", "unexpected EOF")]
    [InlineData("\"abc", "unexpected EOF")]
    [InlineData("-", "unexpected EOF")]
    [InlineData("1.", "unexpected EOF")]
    [InlineData("1e", "unexpected EOF")]
    [InlineData("tru", "unexpected EOF")]
    [InlineData("trux", "invalid character 'x' in literal true (expecting 'e')")]
    [InlineData("\"\\x\"", "invalid character 'x' in string escape code")]
    [InlineData("\"\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape")]
    [InlineData("\"a\u0001\"", "invalid character '\\x01' in string literal")]
    [InlineData("x", "invalid character 'x' looking for beginning of value")]
    [InlineData("'a'", "invalid character '\\'' looking for beginning of value")]
    [InlineData("{\"a\":-x}", "invalid character 'x' in numeric literal")]
    [InlineData("{\"a\":1.x}", "invalid character 'x' after decimal point in numeric literal")]
    [InlineData("{\"a\":1ex}", "invalid character 'x' in exponent of numeric literal")]
    [InlineData("{\"a\":[1,]}", "invalid character ']' looking for beginning of value")]
    [InlineData("{\"a\":nulx}", "invalid character 'x' in literal null (expecting 'l')")]
    [InlineData("}", "invalid character '}' looking for beginning of value")]
    [InlineData("{\"a\":\"b\"]", "invalid character ']' after object key:value pair")]
    [InlineData("[{]", "invalid character ']' looking for beginning of object key string")]
    [InlineData("\"\\\"", "unexpected EOF")]
    public void The_first_value_is_refused_in_the_decoders_words(string body, string error)
    {
        var exception = Assert.Throws<GoJsonException>(() => GoJson.TryReadFirstValue(Encoding.UTF8.GetBytes(body), out _, out _));
        Assert.Equal(error, exception.Message);
    }

    [Fact]
    public void A_byte_outside_a_string_is_quoted_as_a_latin1_rune()
    {
        var exception = Assert.Throws<GoJsonException>(() => GoJson.TryReadFirstValue([0xFF], out _, out _));
        Assert.Equal("invalid character 'ÿ' looking for beginning of value", exception.Message);
    }

    [Theory]
    [InlineData("  \n", null)]
    [InlineData("{} trailing", "{}")]
    [InlineData("0123", "0")]
    [InlineData("-01", "-0")]
    [InlineData(" [1,{\"a\":[]}] x", "[1,{\"a\":[]}]")]
    public void The_first_value_ends_where_the_decoder_stops(string body, string? value)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var found = GoJson.TryReadFirstValue(bytes, out var start, out var end);
        Assert.Equal(value, found ? Encoding.UTF8.GetString(bytes[start..end]) : null);
    }

    [Theory]
    [InlineData("abc", "invalid character 'a' looking for beginning of value")]
    [InlineData("", "unexpected end of JSON input")]
    [InlineData("1.", "invalid character ' ' after decimal point in numeric literal")]
    [InlineData("-", "invalid character ' ' in numeric literal")]
    [InlineData("tru", "invalid character ' ' in literal true (expecting 'e')")]
    [InlineData("1.5", "json: cannot unmarshal number 1.5 into Go value of type int64")]
    [InlineData("1e3", "json: cannot unmarshal number 1e3 into Go value of type int64")]
    [InlineData("9223372036854775808", "json: cannot unmarshal number 9223372036854775808 into Go value of type int64")]
    [InlineData("true", "json: cannot unmarshal bool into Go value of type int64")]
    [InlineData("[]", "json: cannot unmarshal array into Go value of type int64")]
    [InlineData("{}", "json: cannot unmarshal object into Go value of type int64")]
    [InlineData("12 34", "invalid character '3' after top-level value")]
    [InlineData("\\\"5\\\"", "invalid character '\\\\' looking for beginning of value")]
    [InlineData("01", "invalid character '1' after top-level value")]
    public void An_int64_field_refuses_as_json_unmarshal_does(string quoted, string error)
    {
        // jsonpb strips one pair of quotes from an integer field and hands the rest to json.Unmarshal.
        var exception = Assert.Throws<GoJsonException>(() => ReadRange($$"""{"limit":"{{quoted}}"}"""));
        Assert.Equal(error, exception.Message);
    }

    [Theory]
    [InlineData("\" 12 \"", 12)]
    [InlineData("\"-0\"", 0)]
    [InlineData("null", 0)]
    [InlineData("7", 7)]
    public void An_int64_field_accepts_what_json_unmarshal_accepts(string value, long limit) =>
        Assert.Equal(limit, ReadRange($$"""{"limit":{{value}}}""").Limit);

    [Theory]
    [InlineData("\"x\"", "json: cannot unmarshal string into Go value of type bool")]
    [InlineData("1", "json: cannot unmarshal number into Go value of type bool")]
    [InlineData("[]", "json: cannot unmarshal array into Go value of type bool")]
    [InlineData("{}", "json: cannot unmarshal object into Go value of type bool")]
    public void A_bool_field_refuses_other_kinds(string value, string error) =>
        Assert.Equal(error, Assert.Throws<GoJsonException>(() => ReadRange($$"""{"serializable":{{value}}}""")).Message);

    [Theory]
    [InlineData("\"Zm9v\"", "Zm9v")]
    [InlineData("\"YQ==\"", "YQ==")]
    [InlineData("\"Zm9v\\nYQ==\"", "Zm9vYQ==")]
    [InlineData("\"Zm9vYQ=\\n=\"", "Zm9vYQ==")]
    [InlineData("\"YWJjZA==\"", "YWJjZA==")]
    [InlineData("[102,111]", "Zm8=")]
    [InlineData("\"\\u005a\\u006d9v\"", "Zm9v")]
    [InlineData("\"Zh==\"", "Zg==")]
    [InlineData("null", "")]
    public void A_bytes_field_decodes_as_go_does(string value, string base64) =>
        Assert.Equal(base64, ReadRange($$"""{"key":{{value}}}""").Key.ToBase64());

    [Theory]
    [InlineData("\"Zm 9v\"", "illegal base64 data at input byte 2")]
    [InlineData("\"YQ\"", "illegal base64 data at input byte 0")]
    [InlineData("\"YQ=\"", "illegal base64 data at input byte 3")]
    [InlineData("\"YQ===\"", "illegal base64 data at input byte 4")]
    [InlineData("\"Y===\"", "illegal base64 data at input byte 1")]
    [InlineData("\"=YQ=\"", "illegal base64 data at input byte 0")]
    [InlineData("\"YQ==x\"", "illegal base64 data at input byte 4")]
    [InlineData("\"YWJjZA\"", "illegal base64 data at input byte 4")]
    [InlineData("\"YWJjZA=\\r\"", "illegal base64 data at input byte 8")]
    [InlineData("\"YW=j\"", "illegal base64 data at input byte 2")]
    [InlineData("\"YWJjZGVmZ2hp*\"", "illegal base64 data at input byte 12")]
    [InlineData("\"Zm9v====\"", "illegal base64 data at input byte 4")]
    [InlineData("\"Z===\"", "illegal base64 data at input byte 1")]
    [InlineData("5", "json: cannot unmarshal number into Go value of type []uint8")]
    [InlineData("[256]", "json: cannot unmarshal number 256 into Go value of type uint8")]
    [InlineData("[\"a\"]", "json: cannot unmarshal string into Go value of type uint8")]
    [InlineData("[-1]", "json: cannot unmarshal number -1 into Go value of type uint8")]
    public void A_bytes_field_refuses_as_go_does(string value, string error) =>
        Assert.Equal(error, Assert.Throws<GoJsonException>(() => ReadRange($$"""{"key":{{value}}}""")).Message);

    [Theory]
    [InlineData("[]", "json: cannot unmarshal array into Go value of type map[string]json.RawMessage")]
    [InlineData("1", "json: cannot unmarshal number into Go value of type map[string]json.RawMessage")]
    [InlineData("\"s\"", "json: cannot unmarshal string into Go value of type map[string]json.RawMessage")]
    [InlineData("true", "json: cannot unmarshal bool into Go value of type map[string]json.RawMessage")]
    public void A_message_must_be_an_object(string body, string error) =>
        Assert.Equal(error, Assert.Throws<GoJsonException>(() => ReadRange(body)).Message);

    [Fact]
    public void An_unknown_enum_name_is_quoted_as_jsonpb_quotes_it()
    {
        var exception = Assert.Throws<GoJsonException>(() => ReadRange("""{"sort_order":"FOO"}"""));
        Assert.Equal("""unknown value "\"FOO\"" for enum etcdserverpb.RangeRequest.SortOrder""", exception.Message);
        Assert.Equal(RangeRequest.Types.SortOrder.Descend, ReadRange("""{"sort_order":2}""").SortOrder);
        Assert.Equal((RangeRequest.Types.SortOrder)9, ReadRange("""{"sort_order":9}""").SortOrder);
    }

    [Fact]
    public void Fields_are_decoded_in_declaration_order_and_the_json_name_wins()
    {
        // key (field 1) is decoded before limit (field 3): its error is the one reported, whatever the body's order.
        Assert.Equal("json: cannot unmarshal number into Go value of type []uint8",
            Assert.Throws<GoJsonException>(() => ReadRange("""{"limit":"x","key":5}""")).Message);
        Assert.Equal("YQ==", ReadRange("""{"rangeEnd":"YQ==","range_end":"Yg=="}""").RangeEnd.ToBase64());
        Assert.Equal("Yg==", ReadRange("""{"key":"YQ==","key":"Yg=="}""").Key.ToBase64());
    }

    [Theory]
    [InlineData("a<b>&c", "\"a\\u003cb\\u003e\\u0026c\"")]
    [InlineData("quote\" back\\ slash", "\"quote\\\" back\\\\ slash\"")]
    [InlineData("tab\t nl\n cr\r bs\b ff\f bell\a", "\"tab\\t nl\\n cr\\r bs\\b ff\\f bell\\u0007\"")]
    [InlineData("\u2028\u2029", "\"\\u2028\\u2029\"")]
    [InlineData("é ü 日本", "\"é ü 日本\"")]
    [InlineData("'apostrophe'", "\"'apostrophe'\"")]
    [InlineData("\u0000\u001f\u007f", "\"\\u0000\\u001f\u007f\"")]
    public void Strings_are_escaped_as_json_marshal_escapes_them(string value, string json)
    {
        var output = new ArrayBufferWriter<byte>();
        GoJson.WriteString(output, value);
        Assert.Equal(json, Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Fact]
    public void An_unpaired_surrogate_is_written_as_the_replacement_character()
    {
        var output = new ArrayBufferWriter<byte>();
        GoJson.WriteString(output, "a" + (char)0xD800 + "b");
        Assert.Equal("\"a\uFFFDb\"", Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Fact]
    public void Nesting_beyond_gos_limit_is_refused_without_using_the_stack()
    {
        var deep = new string('[', GoJson.MaxDepth + 1);
        Assert.Equal("invalid character '[' exceeded max depth",
            Assert.Throws<GoJsonException>(() => GoJson.TryReadFirstValue(Encoding.UTF8.GetBytes(deep), out _, out _)).Message);
        var fine = new string('[', GoJson.MaxDepth) + new string(']', GoJson.MaxDepth);
        Assert.True(GoJson.TryReadFirstValue(Encoding.UTF8.GetBytes(fine), out _, out var end));
        Assert.Equal(fine.Length, end);
    }

    private static RangeRequest ReadRange(string body) => GatewayJson.ReadRequest<RangeRequest>(Encoding.UTF8.GetBytes(body));
}
