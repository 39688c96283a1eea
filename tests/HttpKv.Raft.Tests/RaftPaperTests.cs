using HttpKv.Raft;
using static HttpKv.Raft.Tests.TestCluster;

namespace HttpKv.Raft.Tests;

/// <summary>Scenario tests named after the rules of the Raft paper (§5.2–§5.4, figure 3), each a script of
/// steps and the messages or state expected after them. Clusters start from the bootstrap snapshot (index 1, term 1).</summary>
public class RaftPaperTests
{
    [Fact]
    public void ElectionSafety_TwoCandidatesInOneTerm_OnlyOneWins()
    {
        var c = new TestCluster([1, 2, 3], preVote: false, checkQuorum: true);
        c[1].Campaign();
        c[2].Campaign();
        var votes = c.CollectReadies();
        Assert.Equal(
            ["Vote 1->2 term=2", "Vote 1->3 term=2", "Vote 2->1 term=2", "Vote 2->3 term=2"],
            votes.Select(m => $"{m.Type} {m.From}->{m.To} term={m.Term}"));
        foreach (var vote in votes) c.Deliver(vote);
        var responses = c.CollectReadies();
        // Each node votes once per term: 3 grants the first request it sees (from 1) and rejects 2; the candidates reject each other.
        Assert.Equal(
            ["VoteResponse 1->2 reject=True", "VoteResponse 2->1 reject=True", "VoteResponse 3->1 reject=False", "VoteResponse 3->2 reject=True"],
            responses.Select(m => $"{m.Type} {m.From}->{m.To} reject={m.Reject}").Order());
        foreach (var response in responses) c.Deliver(response);
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[1].Status.Role);
        Assert.Equal(RaftRole.Follower, c[2].Status.Role);
        Assert.All(c.Nodes.Values, n => Assert.Equal(1UL, n.Raw.Status.Lead));
    }

    [Fact]
    public void ElectionSafety_PreVoteDoesNotRaiseTerms()
    {
        var c = new TestCluster(1, 2, 3);
        c[1].Campaign();
        var preVotes = c.CollectReadies();
        // A pre-vote asks for the next term without moving to it.
        Assert.All(preVotes, m => Assert.Equal((MessageType.PreVote, 2UL, 1UL, 1UL), (m.Type, m.Term, m.Index, m.LogTerm)));
        Assert.Equal(1UL, c[1].Status.Term);
        foreach (var m in preVotes) c.Deliver(m);
        Assert.All(c.CollectReadies(), m => Assert.Equal((MessageType.PreVoteResponse, 2UL, false), (m.Type, m.Term, m.Reject)));
        Assert.All(c.Nodes.Values, n => Assert.Equal(1UL, n.Raw.Status.Term));
    }

    [Fact]
    public void LeaderAppendOnly_StaleLeaderAppendIsRefusedAndLeaderLogUnchanged()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1); // term 2
        c.Isolate(1);
        c[1].Propose(Data("lost"));
        c.Stabilize();
        c.TickAll(40);
        var leader = c.Nodes.Keys.Single(id => c[id].Status.Role == RaftRole.Leader);
        var before = c.LogOf(leader);
        c[leader].Step(new Message
        {
            Type = MessageType.Append, From = 1, To = leader, Term = 2, Index = 2, LogTerm = 2, Commit = 2,
            Entries = [new Entry(2, 3, EntryType.Normal, Data("lost"))],
        });
        var answer = Assert.Single(c.CollectReadies(), m => m.To == 1);
        // The stale leader hears the newer term (so it steps down); the leader's log did not change.
        Assert.Equal((MessageType.AppendResponse, c[leader].Status.Term), (answer.Type, answer.Term));
        Assert.True(answer.Term > 2);
        Assert.Equal(before, c.LogOf(leader));
    }

    [Fact]
    public void LogMatching_ConflictingSuffixOfOldLeaderIsReplaced()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(1);
        c[1].Propose(Data("x"));
        c[1].Propose(Data("y"));
        c.Stabilize();
        c.TickAll(40); // 1 steps down (check quorum); 2 or 3 is elected
        var leader = c.Nodes.Keys.Single(id => c[id].Status.Role == RaftRole.Leader);
        Assert.NotEqual(1UL, leader);
        c[leader].Propose(Data("z"));
        c.Stabilize();
        c.Heal();
        c.TickAll(5);
        Assert.Equal(c.LogOf(leader), c.LogOf(1));
        Assert.All(c.Nodes.Keys, id => Assert.Equal(["z"], c.AppliedTexts(id)));
    }

    [Fact]
    public void LogMatching_FastBacktrackingSkipsATermPerRoundTrip()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(1);
        for (var i = 0; i < 50; i++) c[1].Propose(Data($"old{i}"));
        c.Stabilize();
        c.TickAll(40);
        var leader = c.Nodes.Keys.Single(id => c[id].Status.Role == RaftRole.Leader);
        for (var i = 0; i < 50; i++) c[leader].Propose(Data($"new{i}"));
        c.Stabilize();
        // Hand over to the third node: its probe for 1 starts after all 50 new entries.
        var third = leader == 2 ? 3UL : 2UL;
        c[leader].TransferLeader(third);
        c.Stabilize();
        leader = third;
        c.Sent.Clear();
        c.Heal();
        c.TickAll(3);
        var rejections = c.Sent.Count(m => m.Type == MessageType.AppendResponse && m.Reject && m.From == 1);
        Assert.InRange(rejections, 1, 2);
        Assert.Equal(c.LogOf(leader), c.LogOf(1));
    }

    [Fact]
    public void LeaderCompleteness_NodeMissingACommittedEntryCannotWin()
    {
        var c = new TestCluster([1, 2, 3], preVote: false, checkQuorum: false);
        c.Elect(1);
        c.Isolate(3);
        c[1].Propose(Data("a"));
        c.Stabilize();
        Assert.Equal(["a"], c.AppliedTexts(2));
        c.Heal();
        c.Cut(1, 3); // 3 hears nothing from the leader, so its log stays behind
        c[3].Campaign();
        var requests = c.CollectReadies();
        Assert.All(requests, m => Assert.Equal((MessageType.Vote, 2UL, 2UL), (m.Type, m.Index, m.LogTerm)));
        foreach (var m in requests) c.Deliver(m);
        var responses = c.CollectReadies().Where(m => m.Type == MessageType.VoteResponse).ToList();
        Assert.All(responses, m => Assert.True(m.Reject)); // 1 and 2 hold index 3, which 3 lacks
        foreach (var m in responses) c.Deliver(m);
        Assert.NotEqual(RaftRole.Leader, c[3].Status.Role);
        c.Heal();
        c.Elect(2);
        c[2].Propose(Data("b"));
        c.Stabilize();
        Assert.All(c.Nodes.Keys, id => Assert.Equal(["a", "b"], c.AppliedTexts(id)));
    }

    [Fact]
    public void CommitRule_LeaderCountsReplicasOnlyForEntriesOfItsOwnTerm()
    {
        var c = new TestCluster([1, 2, 3], preVote: false, checkQuorum: false);
        c.Elect(1);
        c.Cut(2, 1);
        c.Cut(3, 1);
        c[1].Propose(Data("old")); // index 3, term 1: reaches 2 and 3 but the leader never learns it
        c.Stabilize();
        c.Heal();
        c.Isolate(1);
        c[2].Campaign();
        foreach (var m in c.CollectReadies()) c.Deliver(m);
        foreach (var m in c.CollectReadies()) c.Deliver(m);
        Assert.Equal((RaftRole.Leader, 3UL), (c[2].Status.Role, c[2].Status.Term)); // log: 3@2 "old", 4@3 empty
        c.CollectReadies(); // the appends, undelivered
        // 3 reports it holds index 3: a majority holds the term-2 entry, but it is not of term 3: no commit.
        c[2].Step(new Message { Type = MessageType.AppendResponse, From = 3, To = 2, Term = 3, Index = 3 });
        Assert.Equal(2UL, c[2].Status.Commit);
        // Once the term-3 entry is on a majority, it commits, and the term-2 entry with it.
        c[2].Step(new Message { Type = MessageType.AppendResponse, From = 3, To = 2, Term = 3, Index = 4 });
        Assert.Equal(4UL, c[2].Status.Commit);
    }

    [Fact]
    public void StateMachineSafety_EveryNodeAppliesTheSameEntriesAcrossLeaderChanges()
    {
        var c = new TestCluster(1, 2, 3, 4, 5);
        c.Elect(1);
        var expected = new List<string>();
        foreach (var (leader, next) in new (ulong, ulong)[] { (1, 3), (3, 5), (5, 2), (2, 2) })
        {
            for (var i = 0; i < 3; i++)
            {
                var text = $"{leader}-{i}";
                c[leader].Propose(Data(text));
                expected.Add(text);
            }
            c.Stabilize();
            if (next != leader)
            {
                c[leader].TransferLeader(next);
                c.Stabilize();
                Assert.Equal(RaftRole.Leader, c[next].Status.Role);
            }
        }
        Assert.All(c.Nodes.Keys, id => Assert.Equal(expected, c.AppliedTexts(id)));
        Assert.All(c.Nodes.Keys, id => Assert.Equal(c.LogOf(1), c.LogOf(id)));
    }
}
