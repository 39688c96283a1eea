using System.Buffers.Binary;

namespace HttpKv.Mvcc;

/// <summary>
/// The key index's order: every key and its <see cref="KeyIndex"/>, bytewise ascending, in sorted blocks.
/// </summary>
/// <remarks>
/// Layout: a list of blocks, each two parallel arrays (the keys' bytes and their <see cref="KeyIndex"/>es) of at most
/// <see cref="MaxBlock"/> entries, and beside it the first key of every block. A lookup is a binary search over the
/// first keys and one inside the block, touching only key arrays: a red-black tree of objects (SortedSet) takes three
/// dependent loads per level (node, index, key) and a node of ~48 bytes per key; here a key costs two references in
/// its block. An insert or a delete moves at most a block's references; a block that fills splits in two, one that
/// falls under <see cref="MinBlock"/> is merged with its neighbour (and split again if that is too large). The shape
/// is that of Python's sortedcontainers (a list of sorted lists); a lookup among 100,000 keys makes ~17 comparisons.
/// Not thread-safe: <see cref="TreeIndex"/> guards it with its lock.
/// </remarks>
internal sealed class SortedKeys
{
    internal const int MaxBlock = 512;
    internal const int MinBlock = MaxBlock / 8;

    private readonly List<Block> blocks = [];
    private readonly List<byte[]> firstKeys = [];

    public int Count { get; private set; }

    public KeyIndex? Find(ReadOnlySpan<byte> key)
    {
        if (blocks.Count == 0) return null;
        var block = blocks[BlockFor(key)];
        var at = block.Search(key);
        return at >= 0 ? block.Values[at] : null;
    }

    /// <summary>The key's index, added (with a copy of the key) when it is not present: one search either way.</summary>
    public KeyIndex GetOrAdd(ReadOnlySpan<byte> key)
    {
        var (b, at) = Locate(key);
        if (at >= 0) return blocks[b].Values[at];
        var copy = key.ToArray();
        var added = new KeyIndex(copy);
        InsertAt(b, ~at, copy, added);
        return added;
    }

    /// <summary>Adds a key that is not present; <paramref name="key"/> becomes the index's.</summary>
    public void Add(byte[] key, KeyIndex value)
    {
        var (b, at) = Locate(key);
        if (at >= 0) throw new InvalidOperationException("the key is in the index already");
        InsertAt(b, ~at, key, value);
    }

    /// <summary>The block for <paramref name="key"/> (one is made for the first key) and the key's position in it,
    /// or the complement of where it would go.</summary>
    private (int Block, int At) Locate(ReadOnlySpan<byte> key)
    {
        if (blocks.Count == 0)
        {
            blocks.Add(new Block());
            firstKeys.Add([]);
        }
        var b = BlockFor(key);
        return (b, blocks[b].Search(key));
    }

    private void InsertAt(int b, int at, byte[] key, KeyIndex value)
    {
        var block = blocks[b];
        block.Insert(at, key, value);
        if (at == 0) firstKeys[b] = key;
        Count++;
        if (block.Count > MaxBlock) Split(b);
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        if (blocks.Count == 0) return false;
        var b = BlockFor(key);
        var block = blocks[b];
        var at = block.Search(key);
        if (at < 0) return false;
        block.RemoveAt(at);
        Count--;
        if (block.Count == 0)
        {
            blocks.RemoveAt(b);
            firstKeys.RemoveAt(b);
            return true;
        }
        if (at == 0) firstKeys[b] = block.Keys[0];
        if (block.Count < MinBlock && blocks.Count > 1) Merge(b < blocks.Count - 1 ? b : b - 1);
        return true;
    }

    /// <summary>The entries from the first key ≥ <paramref name="lower"/> on, ascending.</summary>
    public IEnumerable<KeyIndex> From(ReadOnlyMemory<byte> lower)
    {
        if (blocks.Count == 0) yield break;
        var b = BlockFor(lower.Span);
        var at = blocks[b].Search(lower.Span);
        if (at < 0) at = ~at;
        for (; b < blocks.Count; b++, at = 0)
        {
            var block = blocks[b];
            for (; at < block.Count; at++) yield return block.Values[at];
        }
    }

    public IEnumerable<KeyIndex> All() => From(ReadOnlyMemory<byte>.Empty);

    /// <summary>The block that holds <paramref name="key"/> or would: the last whose first key is ≤ it (the first
    /// block takes every key below its first).</summary>
    private int BlockFor(ReadOnlySpan<byte> key)
    {
        int low = 1, high = firstKeys.Count - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            if (firstKeys[mid].AsSpan().SequenceCompareTo(key) <= 0) low = mid + 1;
            else high = mid - 1;
        }
        return low - 1;
    }

    private void Split(int b)
    {
        var right = blocks[b].SplitOff(blocks[b].Count / 2);
        blocks.Insert(b + 1, right);
        firstKeys.Insert(b + 1, right.Keys[0]);
    }

    /// <summary>Merges block <paramref name="b"/> with the one after it, splitting the result if it is too large.</summary>
    private void Merge(int b)
    {
        blocks[b].Append(blocks[b + 1]);
        blocks.RemoveAt(b + 1);
        firstKeys.RemoveAt(b + 1);
        if (blocks[b].Count > MaxBlock) Split(b);
    }

    /// <summary>The structure's invariants, for tests: blocks non-empty, within their bounds unless alone, sorted
    /// within and across, first keys right, every key with its block's shared prefix and its window right, the count
    /// right.</summary>
    internal void CheckInvariants()
    {
        if (blocks.Count != firstKeys.Count) throw new InvalidOperationException("blocks and first keys differ in number");
        var total = 0;
        byte[]? previous = null;
        for (var b = 0; b < blocks.Count; b++)
        {
            var block = blocks[b];
            if (block.Count == 0 || block.Count > MaxBlock) throw new InvalidOperationException($"block {b} holds {block.Count}");
            if (blocks.Count > 1 && block.Count < MinBlock) throw new InvalidOperationException($"block {b} holds {block.Count} (< {MinBlock})");
            if (!ReferenceEquals(firstKeys[b], block.Keys[0])) throw new InvalidOperationException($"block {b}'s first key is stale");
            for (var i = 0; i < block.Count; i++)
            {
                if (previous is not null && previous.AsSpan().SequenceCompareTo(block.Keys[i]) >= 0)
                    throw new InvalidOperationException($"block {b} entry {i} is out of order");
                previous = block.Keys[i];
                if (!block.Values[i].Key.Span.SequenceEqual(block.Keys[i])) throw new InvalidOperationException($"block {b} entry {i}'s index has another key");
                if (block.Keys[i].AsSpan().CommonPrefixLength(block.Keys[0]) < block.Shared) throw new InvalidOperationException($"block {b} entry {i} lacks the shared prefix");
                if (block.Windows[i] != Block.Window(block.Keys[i], block.Shared)) throw new InvalidOperationException($"block {b} entry {i}'s window is stale");
            }
            total += block.Count;
        }
        if (total != Count) throw new InvalidOperationException($"count {Count}, entries {total}");
    }

    /// <summary>Sorted entries, with beside each key its <em>window</em>: the 8 bytes after the prefix every key of the
    /// block shares (<see cref="Shared"/> bytes), big-endian and zero-padded, as one number. A search compares windows
    /// (one array, no key to load) and reads a key only when its window equals the probe's; under a random load the
    /// keys are out of the cache, so each key read is a miss. Windows order as the keys do wherever they differ:
    /// the first byte that differs inside the window decides both, and a key that ends inside it pads with zeros,
    /// which sorts it before a longer one unless the longer one continues with zeros, where the windows tie and
    /// the keys themselves are compared.</summary>
    private sealed class Block
    {
        public byte[][] Keys = new byte[8][];
        public ulong[] Windows = new ulong[8];
        public KeyIndex[] Values = new KeyIndex[8];
        public int Count;
        /// <summary>How many leading bytes every key of the block shares (the common prefix of the first and the last:
        /// for sorted keys, that of all of them). A key removed keeps it valid; one added at either end may shorten it,
        /// and then every window is computed again.</summary>
        public int Shared;

        /// <summary>The key's position, or the bitwise complement of where it would go.</summary>
        public int Search(ReadOnlySpan<byte> key)
        {
            if (Count == 0) return ~0;
            var first = Keys[0];
            if (key.Length < Shared || !key[..Shared].SequenceEqual(first.AsSpan(0, Shared)))
            {
                return key.SequenceCompareTo(first) < 0 ? ~0 : ~Count; // outside the shared prefix: below or above all
            }
            var window = Window(key, Shared);
            int low = 0, high = Count - 1;
            while (low <= high)
            {
                var mid = (low + high) >>> 1;
                var other = Windows[mid];
                var order = other == window ? Keys[mid].AsSpan().SequenceCompareTo(key) : other < window ? -1 : 1;
                if (order == 0) return mid;
                if (order < 0) low = mid + 1;
                else high = mid - 1;
            }
            return ~low;
        }

        public void Insert(int at, byte[] key, KeyIndex value)
        {
            if (Count == Keys.Length) Grow(Count + 1);
            Array.Copy(Keys, at, Keys, at + 1, Count - at);
            Array.Copy(Windows, at, Windows, at + 1, Count - at);
            Array.Copy(Values, at, Values, at + 1, Count - at);
            Keys[at] = key;
            Values[at] = value;
            Count++;
            var atAnEnd = at == 0 || at == Count - 1; // a new first or last key may share less
            if (!(atAnEnd && Reshape())) Windows[at] = Window(key, Shared);
        }

        public void RemoveAt(int at)
        {
            Count--;
            Array.Copy(Keys, at + 1, Keys, at, Count - at);
            Array.Copy(Windows, at + 1, Windows, at, Count - at);
            Array.Copy(Values, at + 1, Values, at, Count - at);
            Keys[Count] = null!;
            Values[Count] = null!;
            if (Count > 0 && (at == 0 || at == Count)) Reshape(); // the keys left may share more
        }

        /// <summary>Moves the entries from <paramref name="at"/> on into a new block.</summary>
        public Block SplitOff(int at)
        {
            var right = new Block();
            right.Grow(Count - at);
            Array.Copy(Keys, at, right.Keys, 0, Count - at);
            Array.Copy(Values, at, right.Values, 0, Count - at);
            right.Count = Count - at;
            Array.Clear(Keys, at, Count - at);
            Array.Clear(Values, at, Count - at);
            Count = at;
            Reshape();
            right.Reshape(all: true);
            return right;
        }

        public void Append(Block other)
        {
            Grow(Count + other.Count);
            Array.Copy(other.Keys, 0, Keys, Count, other.Count);
            Array.Copy(other.Values, 0, Values, Count, other.Count);
            Count += other.Count;
            Reshape(all: true);
        }

        /// <summary>Computes <see cref="Shared"/> from the first and last keys, and every window if it changed (or
        /// with <paramref name="all"/>); true if the windows were computed.</summary>
        private bool Reshape(bool all = false)
        {
            if (Count == 0) return true;
            var shared = Keys[0].AsSpan().CommonPrefixLength(Keys[Count - 1]);
            if (shared == Shared && !all) return false;
            Shared = shared;
            for (var i = 0; i < Count; i++) Windows[i] = Window(Keys[i], shared);
            return true;
        }

        internal static ulong Window(ReadOnlySpan<byte> key, int from)
        {
            var rest = key[from..];
            if (rest.Length >= sizeof(ulong)) return BinaryPrimitives.ReadUInt64BigEndian(rest);
            Span<byte> padded = stackalloc byte[sizeof(ulong)];
            padded.Clear();
            rest.CopyTo(padded);
            return BinaryPrimitives.ReadUInt64BigEndian(padded);
        }

        private void Grow(int needed)
        {
            if (needed <= Keys.Length) return;
            var capacity = Math.Max(Math.Min(Math.Max(needed, Keys.Length * 2), MaxBlock + 1), needed);
            Array.Resize(ref Keys, capacity);
            Array.Resize(ref Windows, capacity);
            Array.Resize(ref Values, capacity);
        }
    }
}
