using System.Text;
using HttpKv.Storage.Wal;

namespace HttpKv.Storage.Tests.Wal;

public sealed class Crc32CTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xC1D04330u)]
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void Matches_published_check_values(string text, uint expected)
    {
        byte[] data = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.Compute(data));
        Assert.Equal(expected, Crc32C.ComputeWithTable(data));
    }

    [Fact]
    public void Hardware_and_table_agree_on_every_length_and_alignment()
    {
        var random = new Random(7);
        byte[] data = new byte[300];
        random.NextBytes(data);
        for (int start = 0; start < 9; start++)
        {
            for (int length = 0; start + length <= data.Length; length += 13)
            {
                ReadOnlySpan<byte> slice = data.AsSpan(start, length);
                Assert.Equal(Crc32C.ComputeWithTable(slice), Crc32C.Compute(slice));
            }
        }
    }

    [Fact]
    public void Appending_piece_by_piece_equals_hashing_the_whole()
    {
        byte[] data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        foreach (int split in new[] { 0, 1, 7, 8, 9, 500, 999, 1000 })
        {
            uint pieces = Crc32C.Append(Crc32C.Append(0, data.AsSpan(0, split)), data.AsSpan(split));
            Assert.Equal(Crc32C.Compute(data), pieces);
        }
    }
}
