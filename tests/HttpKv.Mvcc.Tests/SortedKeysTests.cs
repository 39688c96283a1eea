using System.Text;

namespace HttpKv.Mvcc.Tests;

/// <summary>The key index's ordered container against a model (SortedSet of the same keys): random adds, removes,
/// lookups and scans, with the blocks' invariants checked as it grows past many splits and shrinks through merges.</summary>
public sealed class SortedKeysTests
{
    private static readonly Comparer<byte[]> Bytewise = Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y));

    [Theory]
    [InlineData(1, 3_000, false)]
    [InlineData(2, 20_000, false)]
    [InlineData(3, 20_000, false)]
    [InlineData(4, 20_000, true)]
    [InlineData(5, 20_000, true)]
    public void Random_operations_match_a_sorted_set(int seed, int steps, bool ragged)
    {
        var random = new Random(seed);
        Func<int, byte[]> keyOf = ragged ? RaggedKey : Key;
        var keys = new SortedKeys();
        var model = new SortedSet<byte[]>(Bytewise);
        // A key space a few blocks wide, so that blocks split, merge and empty; a growth phase, then a shrink phase.
        var space = SortedKeys.MaxBlock * 6;
        for (var step = 0; step < steps; step++)
        {
            var key = keyOf(random.Next(space));
            var adding = step < steps / 2 ? random.Next(4) != 0 : random.Next(4) == 0;
            if (adding && !model.Contains(key))
            {
                if (random.Next(2) == 0) keys.Add(key, new KeyIndex(key));
                else Assert.True(keys.GetOrAdd(key).Key.Span.SequenceEqual(key));
                model.Add(key);
            }
            else if (adding)
            {
                Assert.Same(keys.Find(key), keys.GetOrAdd(key)); // present: the same index, nothing added
            }
            else if (!adding)
            {
                Assert.Equal(model.Remove(key), keys.Remove(key));
            }
            Assert.Equal(model.Contains(key), keys.Find(key) is not null);
            if (step % 97 == 0)
            {
                keys.CheckInvariants();
                var from = keyOf(random.Next(space));
                Assert.Equal(model.Where(k => Bytewise.Compare(k, from) >= 0).Select(Text), keys.From(from).Select(index => Text(index.Key.ToArray())));
            }
        }
        keys.CheckInvariants();
        Assert.Equal(model.Count, keys.Count);
        Assert.Equal(model.Select(Text), keys.All().Select(index => Text(index.Key.ToArray())));
    }

    [Fact]
    public void Keys_below_the_first_and_prefixes_of_others_keep_their_order()
    {
        var keys = new SortedKeys();
        foreach (var text in new[] { "b", "ba", "a", "", "bb", "b\0", "c" }) keys.Add(Encoding.UTF8.GetBytes(text), new KeyIndex(Encoding.UTF8.GetBytes(text)));
        keys.CheckInvariants();
        Assert.Equal(["", "a", "b", "b\0", "ba", "bb", "c"], keys.All().Select(index => Text(index.Key.ToArray())));
        Assert.Equal(["ba", "bb", "c"], keys.From("b\u0001"u8.ToArray()).Select(index => Text(index.Key.ToArray())));
        Assert.Null(keys.Find("bc"u8));
        Assert.Throws<InvalidOperationException>(() => keys.Add("a"u8.ToArray(), new KeyIndex("a"u8.ToArray())));
    }

    [Fact]
    public void Removing_every_key_leaves_it_empty_and_usable()
    {
        var keys = new SortedKeys();
        for (var i = 0; i < 5_000; i++) keys.Add(Key(i), new KeyIndex(Key(i)));
        for (var i = 0; i < 5_000; i += 2) Assert.True(keys.Remove(Key(i)));
        keys.CheckInvariants();
        for (var i = 1; i < 5_000; i += 2) Assert.True(keys.Remove(Key(i)));
        Assert.Equal(0, keys.Count);
        Assert.Empty(keys.All());
        Assert.False(keys.Remove(Key(1)));
        keys.Add(Key(7), new KeyIndex(Key(7)));
        keys.CheckInvariants();
        Assert.NotNull(keys.Find(Key(7)));
    }

    /// <summary>Key number <paramref name="n"/> of a ragged key space: a long prefix all share (as Kubernetes'
    /// "/registry/…"), then 0–17 bytes drawn from zero, one, 'a' and 0xFF, so that keys end inside each other's
    /// 8-byte windows, continue with zero bytes, and tie on a window while differing after it.</summary>
    private static byte[] RaggedKey(int n)
    {
        var random = new Random(n);
        var tail = new byte[random.Next(18)];
        ReadOnlySpan<byte> alphabet = [0, 1, (byte)'a', 0xFF];
        for (var i = 0; i < tail.Length; i++) tail[i] = alphabet[random.Next(alphabet.Length)];
        return [.. "/registry/pods/"u8, .. tail];
    }

    private static byte[] Key(int n) => Encoding.ASCII.GetBytes($"key/{n:D6}");

    private static string Text(byte[] key) => Encoding.UTF8.GetString(key);
}
