using HttpKv.Raft;
using static HttpKv.Raft.Tests.TestCluster;

namespace HttpKv.Raft.Tests;

/// <summary>Scenario tests of the features beyond the paper's core: PreVote, CheckQuorum, ReadIndex, leadership
/// transfer, learners, membership changes, snapshots, proposal forwarding and the wire format.</summary>
public class FeatureTests
{
    [Fact]
    public void PreVote_PartitionedNodeRejoiningDoesNotDeposeTheLeader()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(3);
        c.TickAll(50); // 3 keeps trying pre-votes that nobody answers; its term must not rise
        Assert.Equal(2UL, c[3].Status.Term);
        c.Heal();
        c.TickAll(20);
        Assert.Equal((RaftRole.Leader, 2UL), (c[1].Status.Role, c[1].Status.Term));
        Assert.Equal(1UL, c[3].Status.Lead);
    }

    [Fact]
    public void CheckQuorum_LeaderCutOffFromTheQuorumStepsDown()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(1);
        c.Tick(1, 10); // the first check still sees the answers from before the partition
        Assert.Equal(RaftRole.Leader, c[1].Status.Role);
        c.Tick(1, 10); // an election timeout with no answers from the quorum
        Assert.Equal(RaftRole.Follower, c[1].Status.Role);
    }

    [Fact]
    public void CheckQuorum_FollowerInLeaseIgnoresAVoteRequest()
    {
        var c = new TestCluster([1, 2, 3], preVote: false, checkQuorum: true);
        c.Elect(1);
        c[2].Step(new Message { Type = MessageType.Vote, From = 3, To = 2, Term = 5, Index = 99, LogTerm = 9 });
        Assert.DoesNotContain(c.CollectReadies(), m => m.From == 2);
        Assert.Equal((2UL, 1UL), (c[2].Status.Term, c[2].Status.Lead));
    }

    [Fact]
    public void ProposalWithoutLeader_IsDroppedWithAnException()
    {
        var c = new TestCluster(1, 2, 3);
        var dropped = Assert.Throws<ProposalDroppedException>(() => c[2].Propose(Data("x")));
        Assert.Contains("no leader", dropped.Message);
        Assert.Throws<ProposalDroppedException>(() => c[2].ReadIndex(Data("r")));
    }

    [Fact]
    public void ProposalOnFollower_IsForwardedToTheLeader()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[3].Propose(Data("via-3"));
        var forwarded = Assert.Single(c.CollectReadies());
        Assert.Equal((MessageType.Propose, 3UL, 1UL, 0UL), (forwarded.Type, forwarded.From, forwarded.To, forwarded.Term));
        c.Deliver(forwarded);
        c.Stabilize();
        Assert.All(c.Nodes.Keys, id => Assert.Equal(["via-3"], c.AppliedTexts(id)));
    }

    [Fact]
    public void BatchProposal_TravelsAsOneAppendPerFollowerAndCommitsInOrder()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[3].Propose([Data("a"), Data("b"), Data("c")]);
        var forwarded = Assert.Single(c.CollectReadies());
        Assert.Equal((MessageType.Propose, 3), (forwarded.Type, forwarded.Entries.Count));
        c.Deliver(forwarded);
        var appends = c.CollectReadies().Where(message => message.Type == MessageType.Append).ToList();
        Assert.Equal([2UL, 3UL], appends.Select(message => message.To).Order());
        Assert.All(appends, append => Assert.Equal(["a", "b", "c"], append.Entries.Select(TestCluster.Text)));
        foreach (var append in appends) c.Deliver(append);
        c.Stabilize();
        Assert.All(c.Nodes.Keys, id => Assert.Equal(["a", "b", "c"], c.AppliedTexts(id)));
    }

    [Fact]
    public void ReadIndex_ConcurrentReadsShareOneHeartbeatRound()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[1].ReadIndex(Data("r1"));
        c[1].ReadIndex(Data("r2"));
        var round = c.CollectReadies();
        Assert.Equal(["Heartbeat 1->2", "Heartbeat 1->3"], round.Select(m => $"{m.Type} {m.From}->{m.To}"));
        Assert.Equal(round[0].Context.ToArray(), round[1].Context.ToArray());
        foreach (var m in round) c.Deliver(m);
        c.Stabilize();
        Assert.Equal([("r1", 2UL), ("r2", 2UL)], c.Nodes[1].ReadStates.Select(r => (System.Text.Encoding.UTF8.GetString(r.RequestContext.Span), r.Index)));
    }

    [Fact]
    public void ReadIndex_OnFollowerIsAnsweredByTheLeader()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[1].Propose(Data("a"));
        c.Stabilize();
        c[3].ReadIndex(Data("f"));
        c.Stabilize();
        var read = Assert.Single(c.Nodes[3].ReadStates);
        Assert.Equal(3UL, read.Index);
    }

    [Fact]
    public void ReadIndex_NewLeaderWaitsForAnEntryOfItsTermToCommit()
    {
        var c = new TestCluster(1, 2, 3);
        c[1].Campaign();
        for (var i = 0; i < 4; i++) foreach (var m in c.CollectReadies()) c.Deliver(m); // pre-vote and vote rounds
        Assert.Equal(RaftRole.Leader, c[1].Status.Role);
        c.Cut(2, 1);
        c.Cut(3, 1);
        c.Stabilize();
        c[1].ReadIndex(Data("early"));
        var sent = c.CollectReadies();
        Assert.DoesNotContain(sent, m => m.Type == MessageType.Heartbeat); // deferred, no round yet
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.Equal(2UL, Assert.Single(c.Nodes[1].ReadStates).Index);
    }

    [Fact]
    public void LeaderTransfer_TransfereeCampaignsAtOnceAndWins()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(3);
        c[1].Propose(Data("a"));
        c.Stabilize();
        c.Heal();
        c[1].TransferLeader(3); // 3 lags: it is caught up first, then told TimeoutNow
        c.Stabilize();
        Assert.Contains(c.Sent, m => m.Type == MessageType.TimeoutNow && m.To == 3);
        Assert.Equal((RaftRole.Leader, 3UL), (c[3].Status.Role, c[3].Status.Term));
    }

    [Fact]
    public void LeaderTransfer_RequestedOnAFollowerIsForwardedToTheLeader()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[3].TransferLeader(2);
        var forwarded = Assert.Single(c.CollectReadies());
        Assert.Equal((MessageType.TransferLeader, 2UL, 1UL), (forwarded.Type, forwarded.From, forwarded.To));
        c.Deliver(forwarded);
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[2].Status.Role);
    }

    [Fact]
    public void LeaderTransfer_ProposalsAreDroppedWhileTransferring()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Cut(1, 3);
        c[1].TransferLeader(3);
        Assert.Equal(3UL, c[1].Status.LeadTransferee);
        Assert.Throws<ProposalDroppedException>(() => c[1].Propose(Data("x")));
        c.Tick(1, 10); // the transfer gives up after an election timeout
        Assert.Equal(0UL, c[1].Status.LeadTransferee);
    }

    [Fact]
    public void Learner_ReceivesTheLogByASnapshotButNeverVotesUntilPromoted()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Add(4, new MemoryStorage());
        c[1].ProposeConfChange(new ConfChange(ConfChangeType.AddLearnerNode, 4, default));
        c.Stabilize();
        Assert.Throws<ProposalDroppedException>(() =>
        {
            c[1].ProposeConfChange(new ConfChange(ConfChangeType.AddNode, 4, default));
            c[1].ProposeConfChange(new ConfChange(ConfChangeType.RemoveNode, 4, default)); // the first is still pending
        });
        c.Stabilize();
        Assert.Equal([1UL, 2UL, 3UL, 4UL], c[1].Status.ConfState.Voters);
        c[1].Propose(Data("a"));
        c.Stabilize();
        Assert.Equal(["a"], c.AppliedTexts(4));
        Assert.Equal(1UL, c.Nodes[4].Storage.Snapshot().Metadata.Index); // it started from the leader's snapshot
    }

    [Fact]
    public void Learner_DoesNotCampaignNorCountForCommit()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Add(4, new MemoryStorage());
        c[1].ProposeConfChange(new ConfChange(ConfChangeType.AddLearnerNode, 4, default));
        c.Stabilize();
        Assert.True(c[1].Status.Progress[4].IsLearner);
        // With 2 and 3 cut off, the leader and the learner are not a quorum: nothing commits.
        c.Isolate(2);
        c.Isolate(3);
        var commit = c[1].Status.Commit;
        c[1].Propose(Data("x"));
        c.Stabilize();
        Assert.Equal(commit, c[1].Status.Commit);
        Assert.Equal(c[1].Status.Progress[4].Match, commit + 1);
        // A learner never campaigns, however long it hears nothing.
        c.Heal();
        c.Isolate(4);
        c.Tick(4, 100);
        Assert.DoesNotContain(c.CollectReadies(), m => m.From == 4 && m.Type is MessageType.PreVote or MessageType.Vote);
        Assert.Equal(RaftRole.Follower, c[4].Status.Role);
    }

    [Fact]
    public void RemoveNode_LeaderRemovingItselfStepsDownAndTheRestElect()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[1].ProposeConfChange(new ConfChange(ConfChangeType.RemoveNode, 1, default));
        c.Stabilize();
        Assert.Equal(RaftRole.Follower, c[1].Status.Role);
        c.Isolate(1);
        c.TickAll(40);
        var leader = c.Nodes.Keys.Single(id => c[id].Status.Role == RaftRole.Leader);
        Assert.NotEqual(1UL, leader);
        Assert.Equal([2UL, 3UL], c[leader].Status.ConfState.Voters);
    }

    [Fact]
    public void Snapshot_FollowerBehindTheCompactedLogReceivesASnapshot()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c.Isolate(3);
        for (var i = 0; i < 5; i++) c[1].Propose(Data($"e{i}"));
        c.Stabilize();
        var leaderStorage = c.Nodes[1].Storage;
        var applied = c[1].Status.Applied;
        leaderStorage.CreateSnapshot(applied, c[1].Status.ConfState, Data("state"));
        leaderStorage.Compact(applied);
        c.Heal();
        c.TickAll(3);
        Assert.Contains(c.Sent, m => m.Type == MessageType.Snapshot && m.To == 3);
        Assert.Equal(applied, c.Nodes[3].Storage.Snapshot().Metadata.Index);
        Assert.Equal("state", System.Text.Encoding.UTF8.GetString(c.Nodes[3].Storage.Snapshot().Data.Span));
        c[1].Propose(Data("after"));
        c.Stabilize();
        Assert.Equal(["after"], c.AppliedTexts(3));
        Assert.Equal(ProgressState.Replicate, c[1].Status.Progress[3].State);
    }

    [Fact]
    public void Replication_InflightWindowBoundsUnacknowledgedAppends_UnreachableFallsBackToProbe()
    {
        var c = new TestCluster([1, 2, 3], preVote: true, checkQuorum: true, maxInflight: 2);
        c.Elect(1);
        Assert.Equal(ProgressState.Replicate, c[1].Status.Progress[2].State);
        c.Cut(2, 1); // 2 receives appends but its answers are lost
        for (var i = 0; i < 5; i++)
        {
            c[1].Propose(Data($"p{i}"));
            c.Stabilize();
        }
        Assert.Equal(2, c.Sent.Count(m => m.Type == MessageType.Append && m.To == 2 && m.Entries.Count > 0 && m.Index >= 2));
        c[1].ReportUnreachable(2);
        Assert.Equal(ProgressState.Probe, c[1].Status.Progress[2].State);
        c.Heal();
        c.TickAll(2);
        Assert.Equal(c.LogOf(1), c.LogOf(2));
        Assert.Equal(ProgressState.Replicate, c[1].Status.Progress[2].State);
    }

    [Fact]
    public void Restart_AppliedBeyondThePersistedCommitRaisesTheCommit()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[1].Propose(Data("a"));
        c.Stabilize();
        var node = c.Nodes[2];
        node.Storage.SetHardState(node.Storage.HardState with { Commit = 1 }); // the lazily written commit was lost
        node.Raw = c.NewRaw(2, node.Storage, applied: 3);
        Assert.Equal((3UL, 3UL), (node.Raw.Status.Commit, node.Raw.Status.Applied));
        Assert.False(node.Raw.HasReady() && node.Raw.GetReady().CommittedEntries.Count > 0);
    }

    [Fact]
    public void Restart_NodeRecoversItsTermVoteAndLogFromStorage()
    {
        var c = new TestCluster(1, 2, 3);
        c.Elect(1);
        c[1].Propose(Data("a"));
        c.Stabilize();
        var node = c.Nodes[2];
        node.Raw = c.NewRaw(2, node.Storage);
        Assert.Equal((2UL, 1UL, 3UL), (node.Raw.Status.Term, node.Raw.Status.Vote, node.Raw.Status.Commit));
        c[1].Propose(Data("b"));
        c.Stabilize();
        Assert.Equal(4UL, c[2].Status.Applied);
    }

    [Fact]
    public void Wire_MessageAndConfChangeRoundTrip()
    {
        var message = new Message
        {
            Type = MessageType.Snapshot, To = 3, From = 1, Term = 7, LogTerm = 6, Index = 1UL << 40, Commit = 5, Reject = true,
            RejectHint = 4, Context = Data("ctx"),
            Entries = [new Entry(7, 9, EntryType.ConfChange, new ConfChange(ConfChangeType.AddLearnerNode, 42, Data("u")).Encode())],
            Snapshot = new Snapshot(new SnapshotMetadata(9, 7, new ConfState([1, 2], [3])), Data("data")),
        };
        var decoded = Message.Decode(message.Encode());
        Assert.Equal(message.ToString(), decoded.ToString());
        Assert.Equal((message.Reject, message.RejectHint, "ctx"), (decoded.Reject, decoded.RejectHint, System.Text.Encoding.UTF8.GetString(decoded.Context.Span)));
        Assert.Equal(message.Snapshot.Metadata, decoded.Snapshot!.Metadata);
        var change = ConfChange.Decode(decoded.Entries[0].Data.Span);
        Assert.Equal((ConfChangeType.AddLearnerNode, 42UL, "u"), (change.Type, change.NodeId, System.Text.Encoding.UTF8.GetString(change.Context.Span)));
        Assert.Throws<FormatException>(() => Message.Decode(message.Encode().AsSpan(0, 10)));
    }
}
