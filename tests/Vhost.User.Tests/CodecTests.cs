using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>Wire layouts against vhost-user.rst, and the reader/writer over a socketpair with SCM_RIGHTS.</summary>
public sealed class CodecTests
{
    [Fact]
    public void StructSizes_MatchTheSpec()
    {
        Assert.Equal(12, Unsafe.SizeOf<VhostUserHeader>());
        Assert.Equal(8, Unsafe.SizeOf<VhostVringState>());
        Assert.Equal(40, Unsafe.SizeOf<VhostVringAddr>());
        Assert.Equal(32, Unsafe.SizeOf<VhostUserMemoryRegion>());
        Assert.Equal(12, Unsafe.SizeOf<VhostUserConfigHeader>());
        Assert.Equal(24, Unsafe.SizeOf<VhostUserInflight>());
    }

    [Fact]
    public void FieldOffsets_MatchTheSpec()
    {
        Assert.Equal(8, Marshal.OffsetOf<VhostUserHeader>(nameof(VhostUserHeader.PayloadSize)).ToInt32());
        Assert.Equal(8, Marshal.OffsetOf<VhostVringAddr>(nameof(VhostVringAddr.DescUserAddr)).ToInt32());
        Assert.Equal(16, Marshal.OffsetOf<VhostVringAddr>(nameof(VhostVringAddr.UsedUserAddr)).ToInt32());
        Assert.Equal(24, Marshal.OffsetOf<VhostVringAddr>(nameof(VhostVringAddr.AvailUserAddr)).ToInt32());
        Assert.Equal(32, Marshal.OffsetOf<VhostVringAddr>(nameof(VhostVringAddr.LogGuestAddr)).ToInt32());
        Assert.Equal(16, Marshal.OffsetOf<VhostUserMemoryRegion>(nameof(VhostUserMemoryRegion.UserspaceAddr)).ToInt32());
        Assert.Equal(24, Marshal.OffsetOf<VhostUserMemoryRegion>(nameof(VhostUserMemoryRegion.MmapOffset)).ToInt32());
        Assert.Equal(16, Marshal.OffsetOf<VhostUserInflight>(nameof(VhostUserInflight.NumQueues)).ToInt32());
        Assert.Equal(18, Marshal.OffsetOf<VhostUserInflight>(nameof(VhostUserInflight.QueueSize)).ToInt32());
    }

    [Theory]
    [InlineData(FrontendRequest.GetFeatures, 1)]
    [InlineData(FrontendRequest.SetMemTable, 5)]
    [InlineData(FrontendRequest.GetVringBase, 11)]
    [InlineData(FrontendRequest.SetVringKick, 12)]
    [InlineData(FrontendRequest.GetProtocolFeatures, 15)]
    [InlineData(FrontendRequest.SetVringEnable, 18)]
    [InlineData(FrontendRequest.GetConfig, 24)]
    [InlineData(FrontendRequest.GetInflightFd, 31)]
    [InlineData(FrontendRequest.SetStatus, 39)]
    [InlineData(FrontendRequest.GetStatus, 40)]
    public void RequestIds_ArePinned(FrontendRequest request, uint value) => Assert.Equal(value, (uint)request);

    [Fact]
    public void ProtocolFeatureBits_ArePinned()
    {
        Assert.Equal(1UL << 0, (ulong)ProtocolFeatures.Mq);
        Assert.Equal(1UL << 3, (ulong)ProtocolFeatures.ReplyAck);
        Assert.Equal(1UL << 9, (ulong)ProtocolFeatures.Config);
        Assert.Equal(1UL << 12, (ulong)ProtocolFeatures.InflightShmfd);
        Assert.Equal(1UL << 16, (ulong)ProtocolFeatures.Status);
    }

    [Fact]
    public void Header_IsHostOrder_RequestFlagsSize()
    {
        var b = new byte[12];
        new VhostUserHeader { Request = 5, Flags = 0x9, PayloadSize = 40 }.Write(b);
        Assert.Equal(new byte[] { 5, 0, 0, 0, 9, 0, 0, 0, 40, 0, 0, 0 }, b);
        Assert.True(VhostUserHeader.Read(b).NeedsReply);
    }

    [Fact]
    public void Message_RoundTrips_WithDescriptors_AndReplyFlagsAreExactly5()
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using var front = new VhostUserConnection(a);
        using var back = new VhostUserConnection(b);
        using var e1 = EventFd.Create();
        using var e2 = EventFd.Create();
        front.Send(FrontendRequest.SetVringCall, 0, BitConverter.GetBytes(3UL), [e1.Descriptor, e2.Descriptor]);
        using (var m = back.Read()!)
        {
            Assert.Equal(FrontendRequest.SetVringCall, m.Request);
            Assert.Equal(3UL, m.ReadU64());
            Assert.Equal(2, m.DescriptorCount);
            using var taken = EventFd.FromDescriptor(m.TakeDescriptor(1));
            e2.Signal();
            Assert.Equal(1UL, taken.Consume()); // the same eventfd crossed the socket
        }
        back.ReplyU64(FrontendRequest.GetFeatures, 42);
        using var reply = front.Read(expectReply: true)!;
        Assert.Equal(0x5u, reply.Header.Flags);
        Assert.Equal(42UL, reply.ReadU64());
    }

    [Fact]
    public void EndOfStream_AtBoundary_IsNull_InsideMessage_IsProtocolError()
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using var back = new VhostUserConnection(b);
        a.Send(new byte[] { 1, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 2 }); // header says 8 bytes, 2 follow
        a.Dispose();
        Assert.Throws<VhostUserProtocolException>(() => back.Read());
        var (c, d) = UnixStreamSocket.CreatePair();
        using var back2 = new VhostUserConnection(d);
        c.Dispose();
        Assert.Null(back2.Read());
    }

    [Theory]
    [InlineData(0x0u, 8u)]      // version 0
    [InlineData(0x2u, 8u)]      // version 2
    [InlineData(0x11u, 8u)]     // reserved bit
    [InlineData(0x5u, 8u)]      // a reply sent as a request
    [InlineData(0x1u, 4097u)]   // payload beyond the cap
    public void BadHeader_IsRejectedBeforeThePayload(uint flags, uint size)
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using var _ = a;
        using var back = new VhostUserConnection(b);
        var h = new byte[12];
        new VhostUserHeader { Request = 1, Flags = flags, PayloadSize = size }.Write(h);
        a.Send(h); // no payload follows: the reader must fail on the header alone, not wait
        Assert.Throws<VhostUserProtocolException>(() => back.Read());
    }

    [Fact]
    public void MoreThanEightDescriptors_IsProtocolError_AndNothingLeaks()
    {
        var (a, b) = UnixStreamSocket.CreatePair();
        using var _ = a;
        using var back = new VhostUserConnection(b);
        var fds = Enumerable.Range(0, 8).Select(_ => EventFd.Create()).ToArray();
        try
        {
            // 8 with the header, 1 more with the payload: 9 for one message.
            var h = new byte[12];
            new VhostUserHeader { Request = 5, Flags = 1, PayloadSize = 8 }.Write(h);
            a.Send(h, fds.Select(f => f.Descriptor).ToArray());
            a.Send(new byte[8], [fds[0].Descriptor]);
            Assert.Throws<VhostUserProtocolException>(() => back.Read());
        }
        finally
        {
            foreach (var f in fds) f.Dispose();
        }
    }
}
