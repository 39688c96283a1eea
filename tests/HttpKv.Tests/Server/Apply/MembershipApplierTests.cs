using Etcdserverpb;
using HttpKv.Protocol.Internal;
using HttpKv.Raft;
using HttpKv.Server;
using Member = Etcdserverpb.Member;
using HttpKv.Server.Apply;
using HttpKv.Server.Cluster;
using HttpKv.Server.Peers;
using HttpKv.Server.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace HttpKv.Tests.Server.Apply;

public sealed class MembershipApplierTests : IAsyncLifetime
{
    private const ulong Self = 1, Other = 2;
    private readonly ApplyFixture fixture = new();
    private readonly Membership membership = Membership.Decode(null);
    private readonly PeerTransport transport = new(Self, 9, TlsEndpointSecurity.Plaintext("peer"), NullLoggerFactory.Instance);
    private int removals;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await transport.DisposeAsync();
        fixture.Dispose();
    }

    private MembershipApplier Applier() => new(membership, transport, Self, () => removals++);

    private MemberListResponse Change(MembershipApplier applier, ConfChangeType type, ulong node, Member? member = null)
    {
        using var batch = fixture.Store.BeginApply();
        var response = applier.ApplyConfChange(batch, fixture.NextIndex(), new ConfChange(type, node, default), new ConfChangeContext { Member = member });
        batch.Commit();
        return response;
    }

    [Fact]
    public void Added_promoted_and_removed_members_are_stored_with_their_entries_and_answered_with_the_list()
    {
        var applier = Applier();
        Change(applier, ConfChangeType.AddNode, Self, new Member { ID = Self, PeerURLs = { "http://127.0.0.1:1" } });
        Change(applier, ConfChangeType.AddLearnerNode, Other, new Member { ID = Other, PeerURLs = { "http://127.0.0.1:2" }, IsLearner = true });

        var promoted = Change(applier, ConfChangeType.AddNode, Other);

        Assert.Equal([Self, Other], promoted.Members.Select(member => member.ID));
        Assert.False(membership.Find(Other)!.IsLearner);
        Assert.False(Membership.Decode(fixture.Store.ReadMeta(BackendMeta.Members)).Find(Other)!.IsLearner);

        var removed = Change(applier, ConfChangeType.RemoveNode, Other);

        Assert.Equal([Self], removed.Members.Select(member => member.ID));
        Assert.True(Membership.Decode(fixture.Store.ReadMeta(BackendMeta.Members)).IsRemoved(Other));
        Assert.Equal(0, removals);
    }

    [Fact]
    public void This_member_removed_is_told_once()
    {
        var applier = Applier();
        Change(applier, ConfChangeType.AddNode, Self, new Member { ID = Self, PeerURLs = { "http://127.0.0.1:1" } });

        Change(applier, ConfChangeType.RemoveNode, Self);

        Assert.Equal(1, removals);
    }

    [Fact]
    public void Published_attributes_and_new_peer_URLs_are_applied_and_stored()
    {
        var applier = Applier();
        Change(applier, ConfChangeType.AddNode, Other, new Member { ID = Other, PeerURLs = { "http://127.0.0.1:2" } });

        fixture.Apply(applier, new LogRequest { MemberAttributes = new Member { ID = Other, Name = "second", ClientURLs = { "http://127.0.0.1:3" } } });
        var updated = Assert.IsType<MemberListResponse>(fixture.Apply(applier,
            new LogRequest { MemberUpdate = new Member { ID = Other, PeerURLs = { "http://127.0.0.1:4" } } }));

        var stored = Membership.Decode(fixture.Store.ReadMeta(BackendMeta.Members)).Find(Other)!;
        Assert.Equal("second", stored.Name);
        Assert.Equal(["http://127.0.0.1:4"], stored.PeerURLs);
        Assert.Equal(["http://127.0.0.1:4"], Assert.Single(updated.Members).PeerURLs);
        Assert.Equal(fixture.LastIndex, fixture.Store.ConsistentIndex);
    }
}
