namespace HttpKv.Raft;

/// <summary>Membership changes, one node at a time. The leader holds a new conf change until the previous one
/// is applied; every node changes its configuration when the caller applies the entry.</summary>
internal sealed partial class Raft
{
    public ConfState ApplyConfChange(ConfChange change)
    {
        var id = change.NodeId;
        Tracker.Progress.TryGetValue(id, out var existing);
        switch (change.Type)
        {
            case ConfChangeType.AddNode when existing is not null:
                existing.IsLearner = false;
                break;
            case ConfChangeType.AddLearnerNode when existing is not null:
                existing.IsLearner = true;
                break;
            case ConfChangeType.AddNode or ConfChangeType.AddLearnerNode:
                Tracker.Add(id, Log.LastIndex() + 1, change.Type == ConfChangeType.AddLearnerNode);
                if (id == Id) Tracker.Progress[id].Match = Log.LastIndex();
                break;
            case ConfChangeType.RemoveNode:
                Tracker.Progress.Remove(id);
                break;
        }
        AfterConfChange();
        return Tracker.ConfState();
    }

    private void AfterConfChange()
    {
        if (Role != RaftRole.Leader) return;
        if (!Tracker.IsVoter(Id))
        {
            BecomeFollower(Term, 0); // removed or demoted: let the others elect a leader
            return;
        }
        if (LeadTransferee != 0 && !Tracker.IsVoter(LeadTransferee)) LeadTransferee = 0;
        // The quorum may have shrunk, and new members need the log.
        MaybeCommit();
        BroadcastAppend();
        ReleaseReads();
    }
}
