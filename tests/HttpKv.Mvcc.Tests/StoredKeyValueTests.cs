using Google.Protobuf;
using Mvccpb;

namespace HttpKv.Mvcc.Tests;

public sealed class StoredKeyValueTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Reads_what_a_full_parse_reads_from_any_stored_key_value(int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < 500; i++)
        {
            var kv = new KeyValue
            {
                Key = ByteString.CopyFrom(Bytes(random, random.Next(0, 40))),
                Value = ByteString.CopyFrom(Bytes(random, random.Next(0, 3000))),
                CreateRevision = random.NextInt64(0, long.MaxValue),
                ModRevision = random.NextInt64(0, long.MaxValue),
                Version = random.Next(0, 3) == 0 ? 0 : random.NextInt64(1, 1_000_000),
                Lease = random.Next(0, 2) == 0 ? 0 : random.NextInt64(1, long.MaxValue),
            };
            var stored = StoredKeyValue.Read(kv.ToByteArray());
            Assert.Equal(kv.Key.ToByteArray(), stored.Key.ToArray());
            Assert.Equal(kv.CreateRevision, stored.CreateRevision);
            Assert.Equal(kv.Version, stored.Version);
        }
    }

    [Fact]
    public void Skips_fields_it_does_not_know_and_refuses_a_truncated_encoding()
    {
        var kv = new KeyValue { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8("v"), CreateRevision = 5, Version = 2 };
        var encoded = kv.ToByteArray();
        // field 9 as fixed64 and field 10 as fixed32, as a newer writer might add
        byte[] withUnknown = [.. encoded, 9 << 3 | 1, 1, 2, 3, 4, 5, 6, 7, 8, 10 << 3 | 5, 1, 2, 3, 4];
        var stored = StoredKeyValue.Read(withUnknown);
        Assert.Equal("k"u8.ToArray(), stored.Key.ToArray());
        Assert.Equal(5, stored.CreateRevision);
        Assert.Equal(2, stored.Version);

        // 0A 01 6B | 10 05 | 20 02 | 2A 01 76: a cut between two fields is a valid shorter message, any other is not.
        Assert.Equal(10, encoded.Length);
        foreach (var length in new[] { 1, 2, 4, 6, 8, 9 })
        {
            var truncated = encoded[..length];
            Assert.Throws<InvalidDataException>(() => StoredKeyValue.Read(truncated));
        }
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
