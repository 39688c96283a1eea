using HttpKv.Connections;

namespace HttpKv.Connections.Tests;

/// <summary>The HPACK rewrite behind <see cref="AuthorityNormalizer"/> (etcdctl 3.4 sends <c>:authority:
/// http://host:port</c> on <c>endpoint status</c>). The blocks are what python3-hpack's encoder produces for two
/// consecutive gRPC requests with Huffman coding: the second refers to the first's <c>:authority</c> by its index in the
/// dynamic table.</summary>
public sealed class HpackRewriterTests
{
    private static readonly byte[] First = Convert.FromHexString(
        "8386449760a924882d9dcb6571afa066a925a87510ac6e48d36a3f418f9d29aee30c044eae05c0b86e09975f5f8b1d75d0620d263d4c4d65644082497f864d833505b11f");
    private static readonly byte[] Second = Convert.FromHexString("8386449760a924882d9dcb6571afa066a925a87510ac631a27cdc7c1c0bf");

    /// <summary>Every literal (name, value) a block carries, read by a rewriter that changes nothing.</summary>
    private static List<(string Name, string Value)> Literals(HpackRewriter? reader, byte[] block, List<(string, string)>? into = null)
    {
        var seen = into ?? [];
        (reader ?? new HpackRewriter((name, value) =>
        {
            seen.Add((name, value));
            return null;
        })).Rewrite(block, out _);
        return seen;
    }

    [Fact]
    public void A_URL_authority_loses_its_scheme_and_the_rest_of_the_block_is_unchanged()
    {
        var rewriter = new HpackRewriter(AuthorityNormalizer.StripScheme);

        var rewritten = rewriter.Rewrite(First, out var changed);

        Assert.True(changed);
        var seen = new List<(string, string)>();
        var reader = new HpackRewriter((name, value) =>
        {
            seen.Add((name, value));
            return null;
        });
        reader.Rewrite(rewritten, out _);
        Assert.Equal(
        [
            (":path", "/etcdserverpb.Maintenance/Status"), (":authority", "127.0.0.1:2379"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ], seen);
        // The second block names :authority by its dynamic index only: nothing to change, since the receiver's table holds the rewritten value.
        Assert.Equal(Second, rewriter.Rewrite(Second, out var secondChanged));
        Assert.False(secondChanged);
        seen.Clear();
        reader.Rewrite(Second, out _);
        Assert.Equal([(":path", "/etcdserverpb.Maintenance/HashKV")], seen);
    }

    [Fact]
    public void A_block_without_a_URL_authority_is_returned_as_it_came()
    {
        var plain = new HpackRewriter(AuthorityNormalizer.StripScheme).Rewrite(First, out _);

        Assert.Equal(plain, new HpackRewriter(AuthorityNormalizer.StripScheme).Rewrite(plain, out var changed));
        Assert.False(changed);
        Assert.Contains((":authority", "http://127.0.0.1:2379"), Literals(null, First));
    }

    [Theory]
    [InlineData(":authority", "http://127.0.0.1:2379", "127.0.0.1:2379")]
    [InlineData(":authority", "https://etcd.example:2379/", "etcd.example:2379")]
    [InlineData(":authority", "127.0.0.1:2379", null)]
    [InlineData("host", "http://127.0.0.1:2379", null)]
    public void Only_an_authority_with_a_scheme_is_rewritten(string name, string value, string? expected) =>
        Assert.Equal(expected, AuthorityNormalizer.StripScheme(name, value));

    /// <summary>Header blocks come from the network: a mutated block (bytes flipped, cut, inserted) is rewritten or refused
    /// with <see cref="HpackException"/>, never an index or argument error that would escape the connection.</summary>
    [Fact]
    public void Mutated_blocks_are_rewritten_or_refused_never_misread()
    {
        var random = new Random(11);
        for (var round = 0; round < 5000; round++)
        {
            var block = new List<byte>(round % 2 == 0 ? First : Second);
            for (var mutations = random.Next(1, 4); mutations > 0; mutations--)
            {
                var at = random.Next(block.Count);
                switch (random.Next(3))
                {
                    case 0: block[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: block.RemoveRange(at, random.Next(1, block.Count - at + 1)); break;
                    default: block.Insert(at, (byte)random.Next(256)); break;
                }
                if (block.Count == 0) break;
            }
            try
            {
                var rewriter = new HpackRewriter(AuthorityNormalizer.StripScheme);
                rewriter.Rewrite(First, out _);
                rewriter.Rewrite([.. block], out _);
            }
            catch (HpackException)
            {
                // refused: Kestrel's own decoder ends such a connection too
            }
        }
    }

    [Theory]
    [InlineData("82ff")] // an integer that never ends
    [InlineData("4185")] // a string longer than the block
    [InlineData("418180")] // :authority with a one-byte Huffman value whose padding is not all ones
    [InlineData("7f00")] // a literal naming index 63: beyond an empty dynamic table
    public void Invalid_HPACK_is_refused_not_misread(string hex) =>
        Assert.Throws<HpackException>(() => new HpackRewriter(AuthorityNormalizer.StripScheme).Rewrite(Convert.FromHexString(hex), out _));
}
