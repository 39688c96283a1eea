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
