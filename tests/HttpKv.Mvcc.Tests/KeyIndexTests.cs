namespace HttpKv.Mvcc.Tests;

public sealed class KeyIndexTests
{
    /// <summary>Builds a key index from a script: "p3" = put at 3.0, "d5" = delete (tombstone) at 5.0.</summary>
    private static KeyIndex Build(string script)
    {
        var keyIndex = new KeyIndex("k"u8.ToArray());
        long version = 0, created = 0;
        foreach (var step in script.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var main = long.Parse(step[1..]);
            if (step[0] == 'p')
            {
                if (version == 0) created = main;
                keyIndex.Put(new Revision(main, 0), created, ++version);
            }
            else
            {
                Assert.True(keyIndex.Tombstone(new Revision(main, 0)));
                version = 0;
            }
        }
        return keyIndex;
    }

    /// <summary>"mod/create/version" at each revision 1..max, "-" when absent.</summary>
    private static string History(KeyIndex keyIndex, long max) => string.Join(" ", Enumerable.Range(1, (int)max).Select(at =>
        keyIndex.TryGet(at, out var modified, out var created, out var version) ? $"{modified.Main}/{created}/{version}" : "-"));

    [Theory]
    [InlineData("p2", "- 2/2/1 2/2/1")]
    [InlineData("p2 p3", "- 2/2/1 3/2/2")]
    [InlineData("p2 d3", "- 2/2/1 - -")]
    [InlineData("p2 d3 p5", "- 2/2/1 - - 5/5/1 5/5/1")]
    [InlineData("p2 p3 d4 p5 p6 d7", "- 2/2/1 3/2/2 - 5/5/1 6/5/2 - -")]
    public void Generations_answer_every_revision(string script, string history)
    {
        Assert.Equal(history, History(Build(script), history.Split(' ').Length));
    }

    [Theory]
    // script, compact at, kept revision (0 = none), empty afterwards, history after (from revision 1)
    [InlineData("p2 p3 p5", 4, 3, false, "- - 3/2/2 3/2/2 5/2/3")]
    [InlineData("p2 p3 p5", 1, 0, false, "- 2/2/1 3/2/2 3/2/2 5/2/3")]
    [InlineData("p2 p3 p5", 5, 5, false, "- - - - 5/2/3")]
    [InlineData("p2 d3", 3, 0, true, "- - - -")]
    [InlineData("p2 d3", 2, 2, false, "- 2/2/1 - -")]
    [InlineData("p2 d3 p5", 4, 0, false, "- - - - 5/5/1")]
    [InlineData("p2 d4 p5", 3, 2, false, "- 2/2/1 2/2/1 - 5/5/1")]
    public void Compaction_keeps_the_newest_live_revision_at_or_below_it(string script, long at, long kept, bool empty, string history)
    {
        var keyIndex = Build(script);
        var keep = new HashSet<Revision>();
        keyIndex.CollectKept(at, keep);
        Assert.Equal(kept == 0 ? [] : new[] { new Revision(kept, 0) }, keep);
        Assert.Equal(empty, keyIndex.Compact(at));
        var answers = History(keyIndex, history.Split(' ').Length).Split(' ');
        var expected = history.Split(' ');
        for (var revision = at; revision <= expected.Length; revision++)
        {
            Assert.Equal(expected[revision - 1], answers[revision - 1]); // below "at" the store refuses to read
        }
    }

    [Theory]
    [InlineData("p2 p3", "p4 p5", false)]
    [InlineData("p2", "d3", false)]
    [InlineData("p2", "d3 p4 d5 p6", false)]
    [InlineData("p2 d3", "p4", false)]
    [InlineData("", "p2 p3", true)]
    [InlineData("", "p2 d3 p4", true)]
    public void Rollback_restores_the_committed_history(string committed, string abandoned, bool empty)
    {
        var reference = Build(committed);
        var keyIndex = Build((committed + " " + abandoned).Trim());
        var last = committed.Length == 0 ? 1 : long.Parse(committed.Split(' ')[^1][1..]);
        Assert.Equal(empty, keyIndex.RollbackAfter(last));
        Assert.Equal(History(reference, 8), History(keyIndex, 8));
        if (empty) return;
        // and it keeps working: a new put after the rollback continues the committed history
        reference.Put(new Revision(last + 1, 0), 0, 0);
        keyIndex.Put(new Revision(last + 1, 0), 0, 0);
        Assert.Equal(History(reference, 8), History(keyIndex, 8));
    }

    /// <summary>Random histories of puts (several per revision, as a txn's), deletes, compactions and rollbacks,
    /// applied to the index and to the reference model (its first, list-of-lists shape): every answer the same.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Random_histories_answer_as_the_reference_model(int seed)
    {
        var random = new Random(seed);
        for (var history = 0; history < 300; history++)
        {
            var keyIndex = new KeyIndex("k"u8.ToArray());
            var model = new ReferenceKeyIndex("k"u8.ToArray());
            long main = 1, compacted = 0;
            for (var step = 0; step < 60; step++)
            {
                var roll = random.Next(20);
                if (roll < 11)
                {
                    var revision = new Revision(++main, random.Next(3) == 0 ? random.Next(1, 4) : 0);
                    var alive = model.TryGet(main, out _, out var created, out var version);
                    keyIndex.Put(revision, alive ? created : main, alive ? version + 1 : 1);
                    model.Put(revision, alive ? created : main, alive ? version + 1 : 1);
                }
                else if (roll < 15)
                {
                    var revision = new Revision(++main, 0);
                    Assert.Equal(model.Tombstone(revision), keyIndex.Tombstone(revision));
                }
                else if (roll < 18)
                {
                    var at = compacted + random.Next((int)(main - compacted) + 1);
                    var keep = new HashSet<Revision>();
                    var modelKeep = new HashSet<Revision>();
                    keyIndex.CollectKept(at, keep);
                    model.CollectKept(at, modelKeep);
                    Assert.Equal(modelKeep, keep);
                    Assert.Equal(model.Compact(at), keyIndex.Compact(at));
                    compacted = Math.Max(compacted, at);
                    if (model.IsEmpty) break; // the store drops an empty key from the index
                }
                else
                {
                    var to = compacted + random.Next((int)(main - compacted) + 1);
                    Assert.Equal(model.RollbackAfter(to), keyIndex.RollbackAfter(to));
                    main = to;
                    if (model.IsEmpty) break;
                }
                Assert.Equal(model.IsEmpty, keyIndex.IsEmpty);
                Assert.Equal(model.History(), keyIndex.History());
                for (var at = compacted; at <= main + 1; at++)
                {
                    Assert.Equal(model.TryGet(at, out var m1, out var c1, out var v1), keyIndex.TryGet(at, out var m2, out var c2, out var v2));
                    Assert.Equal((m1, c1, v1), (m2, c2, v2));
                }
            }
        }
    }

    [Fact]
    public void Revision_keys_encode_like_etcd()
    {
        Span<byte> key = stackalloc byte[Revision.TombstoneEncodedLength];
        Assert.Equal(17, new Revision(0x0102, 3).Encode(key));
        Assert.Equal("0000000000000102" + "5F" + "0000000000000003", Convert.ToHexString(key[..17]));
        Assert.Equal(18, new Revision(5, 1).Encode(key, tombstone: true));
        Assert.Equal(new Revision(5, 1), Revision.Decode(key, out var tombstone));
        Assert.True(tombstone);
    }
}
