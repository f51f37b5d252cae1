using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

[CollectionDefinition(nameof(DescriptorLeakTests), DisableParallelization = true)]
public sealed class DescriptorLeakCollection;

/// <summary>vhost-user.md §6.2 item 2 and 10: descriptors that arrive with bad messages, and repeated inflight buffers, are all closed (CVE-2019-14818, CVE-2022-0669). Runs alone so the process's fd count means something.</summary>
[Collection(nameof(DescriptorLeakTests))]
public sealed class DescriptorLeakTests
{
    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    [Fact]
    public void BadMessagesWithDescriptors_RepeatedConnections_LeakNoDescriptor()
    {
        using var f = DeviceFixture.Blk();
        using var e1 = EventFd.Create();
        using var e2 = EventFd.Create();
        Round(f, 0, e1, e2); // warm-up: thread pool, lazily opened runtime files
        int before = OpenDescriptors();
        for (int i = 1; i <= 400; i++) Round(f, i, e1, e2);
        int after = OpenDescriptors();
        Assert.True(after - before <= 4, $"{after - before} descriptors more after 400 rejected messages ({before} → {after})");
    }

    private static void Round(DeviceFixture f, int i, EventFd e1, EventFd e2)
    {
        using var fe = f.Connect();
        switch (i % 5)
        {
            case 0: fe.Send(FrontendRequest.GetFeatures, default, false, e1.Descriptor, e2.Descriptor); break;
            case 1: fe.Send(FrontendRequest.SetVringKick, 0UL, false, e1.Descriptor, e2.Descriptor); break;
            case 2: fe.Send(FrontendRequest.SetVringCall, 0x100UL, false, e1.Descriptor); break;
            case 3: fe.Send(FrontendRequest.SetMemTable, new byte[8 + 64], false, fe.Region.Descriptor!); break;
            case 4: fe.Send(FrontendRequest.SetInflightFd, new VhostUserInflight { MmapSize = 1 << 20, NumQueues = 1, QueueSize = 256 }, false, e1.Descriptor, e2.Descriptor, e1.Descriptor); break;
        }
        Assert.True(fe.WaitClosed());
        Assert.IsType<VhostUserProtocolException>(f.WaitSessionEnded());
    }

    [Fact]
    public void RepeatedGetInflightFdAndRefusedMemoryTables_LeakNoDescriptor()
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(1UL << VirtioFeatures.Version1, ProtocolFeatures.ReplyAck | ProtocolFeatures.InflightShmfd);
        using var sock = UnixStreamSocket.CreatePair().First;
        void Once()
        {
            fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 1, QueueSize = 256 });
            using (var reply = fe.ReadReply(FrontendRequest.GetInflightFd)) Assert.Equal(1, reply.DescriptorCount);
            // A memory "region" whose fd is a socket: refused, the fd closed.
            var table = new byte[8 + 32];
            System.Runtime.InteropServices.MemoryMarshal.Write(table, 1u);
            System.Runtime.InteropServices.MemoryMarshal.Write(table.AsSpan(8), new VhostUserMemoryRegion { GuestPhysAddr = 0, MemorySize = 4096, UserspaceAddr = 0x1000 });
            fe.Send(FrontendRequest.SetMemTable, table, true, sock.Descriptor);
            using var ack = fe.ReadReply(FrontendRequest.SetMemTable);
            Assert.Equal(1ul, ack.ReadU64());
        }
        Once();
        int before = OpenDescriptors();
        for (int i = 0; i < 1000; i++) Once();
        int after = OpenDescriptors();
        Assert.True(after - before <= 4, $"{after - before} descriptors more after 1000 rounds ({before} → {after})");
    }
}
