using HttpKv.Raft;

namespace HttpKv.Raft.Tests;

/// <summary>The wire format: random messages round-trip, and random or truncated bytes fail only with FormatException.</summary>
public class WireTests
{
    [Fact]
    public void RandomMessages_RoundTrip()
    {
        var random = new Random(1);
        for (var i = 0; i < 2000; i++)
        {
            var message = RandomMessage(random);
            var decoded = Message.Decode(message.Encode());
            Assert.Equal(message.Encode(), decoded.Encode());
            Assert.Equal(message.ToString(), decoded.ToString());
        }
    }

    /// <summary>A received message decodes with its entries' and snapshot's data as slices of its buffer (what a
    /// follower keeps of an append): the same message, and no copy of any entry.</summary>
    [Fact]
    public void RandomMessages_RoundTrip_AsSlicesOfTheirBuffer()
    {
        var random = new Random(3);
        for (var i = 0; i < 2000; i++)
        {
            var message = RandomMessage(random);
            var buffer = message.Encode();
            var decoded = Message.Decode((ReadOnlyMemory<byte>)buffer);
            Assert.Equal(buffer, decoded.Encode());
            Assert.Equal(message.ToString(), decoded.ToString());
            foreach (var data in decoded.Entries.Select(entry => entry.Data).Append(decoded.Snapshot?.Data ?? ReadOnlyMemory<byte>.Empty))
            {
                if (data.IsEmpty) continue;
                Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var segment) && ReferenceEquals(segment.Array, buffer));
            }
        }
    }

    [Fact]
    public void GarbageAndTruncatedInput_FailWithFormatExceptionOnly()
    {
        var random = new Random(2);
        for (var i = 0; i < 5000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[random.Next(0, 64)];
                random.NextBytes(bytes);
                if (bytes.Length > 0) bytes[0] = 1; // past the version byte, into the fields
            }
            else
            {
                var encoded = RandomMessage(random).Encode();
                bytes = encoded.AsSpan(0, random.Next(encoded.Length)).ToArray();
            }
            try
            {
                Message.Decode(bytes);
            }
            catch (FormatException)
            {
            }
            try
            {
                Message.Decode((ReadOnlyMemory<byte>)bytes);
            }
            catch (FormatException)
            {
            }
        }
    }

    private static Message RandomMessage(Random random)
    {
        ulong Next() => random.Next(3) switch { 0 => 0, 1 => (ulong)random.Next(1000), _ => (ulong)random.NextInt64() * 3 };
        byte[] Bytes() { var b = new byte[random.Next(0, 20)]; random.NextBytes(b); return b; }
        var entries = Enumerable.Range(0, random.Next(0, 4))
            .Select(_ => new Entry(Next(), Next(), (EntryType)random.Next(2), Bytes())).ToArray();
        Snapshot? snapshot = random.Next(3) == 0
            ? new Snapshot(new SnapshotMetadata(Next(), Next(), new ConfState([Next(), Next()], [Next()])), Bytes())
            : null;
        return new Message
        {
            Type = (MessageType)random.Next(19), To = Next(), From = Next(), Term = Next(), LogTerm = Next(), Index = Next(),
            Commit = Next(), Reject = random.Next(2) == 0, RejectHint = Next(), Context = Bytes(), Entries = entries, Snapshot = snapshot,
        };
    }
}
