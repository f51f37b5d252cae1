using System.Runtime.InteropServices;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>INFLIGHT_SHMFD for blk: the inflight buffer survives back-end and front-end failures, requests complete exactly once.</summary>
public sealed class InflightTests
{
    private static readonly ulong BlkFeatures = 1UL << VirtioFeatures.Version1;
    private const ProtocolFeatures Proto = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config | ProtocolFeatures.InflightShmfd;

    /// <summary>The front-end's own view of the inflight buffer (QEMU keeps the memfd).</summary>
    private sealed class Buffer : IDisposable
    {
        public Buffer(FileDescriptor fd, ulong size)
        {
            Fd = fd;
            Size = size;
            Region = MemoryRegion.FromDescriptor(new GuestAddress(0), fd.Duplicate(), 0, (long)size);
            Space = new DmaSpace(GuestMemory.Create(Region));
            Lease = Space.Acquire();
        }

        public FileDescriptor Fd { get; }
        public ulong Size { get; }
        public MemoryRegion Region { get; }
        public DmaSpace Space { get; }
        public DmaLease Lease { get; }
        public DmaView View => Lease.View;

        public ushort Header(int offset) { Assert.True(View.TryReadUInt16(new Iova((ulong)offset), out ushort v)); return v; }
        public byte Inflight(int head) { var b = new byte[1]; Assert.True(View.TryRead(new Iova(16 + 16UL * (ulong)head), b)); return b[0]; }
        public void MarkInflight(int head, ulong counter)
        {
            Assert.True(View.TryWriteUInt64(new Iova(16 + 16UL * (ulong)head + 8), counter));
            Assert.True(View.TryWrite(new Iova(16 + 16UL * (ulong)head), [(byte)1]));
        }

        public void Dispose()
        {
            Lease.Dispose();
            Space.Dispose();
            Region.Dispose();
            Fd.Dispose();
        }
    }

    private static Buffer GetInflight(TestFrontend fe, ushort queues = 1, ushort size = 256)
    {
        fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = queues, QueueSize = size });
        using var reply = fe.ReadReply(FrontendRequest.GetInflightFd);
        var info = reply.Read<VhostUserInflight>();
        Assert.Equal(1, reply.DescriptorCount);
        Assert.Equal(0ul, info.MmapOffset);
        Assert.True(info.MmapSize >= (ulong)queues * (16 + 16UL * size));
        return new Buffer(reply.TakeDescriptor(0), info.MmapSize);
    }

    private static ulong SetInflight(TestFrontend fe, Buffer b, ushort queues = 1, ushort size = 256)
        => fe.SendAck(FrontendRequest.SetInflightFd, new VhostUserInflight { MmapSize = b.Size, MmapOffset = 0, NumQueues = queues, QueueSize = size }, b.Fd);

    /// <summary>QEMU's start after (re)connect: features, inflight buffer, memory, ring at <paramref name="baseIndex"/> (prepared once).</summary>
    private static ulong Start(TestFrontend fe, Buffer b, ushort baseIndex, bool prepare)
    {
        fe.Negotiate(BlkFeatures, Proto);
        Assert.Equal(0ul, SetInflight(fe, b));
        var addr = prepare ? fe.PrepareRing(0) : fe.RingAddresses[0];
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 256 }));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringBase, new VhostVringState { Index = 0, Num = baseIndex }));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringAddr, addr));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringCall, 0UL, fe.Calls[0]!.Descriptor));
        ulong kick = fe.SendAck(FrontendRequest.SetVringKick, 0UL, fe.Kicks[0]!.Descriptor);
        if (kick == 0) Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 }));
        return kick;
    }

    private static byte[] Pattern(int seed)
    {
        var b = new byte[4096];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void InflightShmfd_IsOfferedForBlkOnly()
    {
        using (var blk = DeviceFixture.Blk())
        using (var fe = blk.Connect())
            Assert.NotEqual(0ul, fe.GetU64(FrontendRequest.GetProtocolFeatures) & (ulong)ProtocolFeatures.InflightShmfd);
        using var net = DeviceFixture.Net();
        using var fe2 = net.Connect();
        Assert.Equal(0ul, fe2.GetU64(FrontendRequest.GetProtocolFeatures) & (ulong)ProtocolFeatures.InflightShmfd);
    }

    [Fact]
    public void TheBufferTracksRequests_VersionDescNumUsedIdx()
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures, Proto);
        using var b = GetInflight(fe);
        Assert.Equal(1, b.Header(8));     // version
        Assert.Equal(256, b.Header(10));  // desc_num
        Assert.Equal(0ul, SetInflight(fe, b));
        fe.SetupRing(0);
        for (int i = 1; i <= 3; i++) Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, (ulong)i * 8, Pattern(i), 0, i).Status);
        Assert.Equal(3, b.Header(14));    // used_idx
        ushort lastHead = fe.AvailHead(0, 2);
        Assert.Equal(lastHead, b.Header(12)); // last_batch_head
        for (int h = 0; h < 256; h++) Assert.Equal(0, b.Inflight(h));
    }

    /// <summary>
    /// A back-end that took requests 3 and 4 and died leaves them inflight in the buffer. The front-end reconnects with
    /// the same buffer (QEMU skips GET_INFLIGHT_FD) and a base of either the used index (QEMU's fallback) or the dead
    /// back-end's last available index: both times the two are resubmitted first, oldest first, then request 5, and
    /// each completes exactly once.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void BackendDiedMidIo_ReconnectWithTheSameBuffer_ResubmitsInflightRequestsOnce(int reconnectBase)
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures, Proto);
        using var b = GetInflight(fe);
        Assert.Equal(0ul, SetInflight(fe, b));
        fe.SetupRing(0);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, 0, Pattern(1), 0, 1).Status);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, 8, Pattern(2), 0, 2).Status);

        // The back-end goes away; then requests 3 and 4 are made available and recorded as taken (counters 7, 8).
        fe.Connection.Dispose();
        Assert.Null(f.WaitSessionEnded());
        var s3 = Io.AddBlk(fe, 0, BlkRequestType.Out, 16, Pattern(3), 0, 3).Status;
        var s4 = Io.AddBlk(fe, 0, BlkRequestType.Out, 24, Pattern(4), 0, 4).Status;
        b.MarkInflight(fe.AvailHead(0, 2), 7);
        b.MarkInflight(fe.AvailHead(0, 3), 8);
        var s5 = Io.AddBlk(fe, 0, BlkRequestType.Out, 32, Pattern(5), 0, 5).Status;

        fe.Reconnect(f.SocketPath);
        Assert.Equal(0ul, Start(fe, b, (ushort)reconnectBase, prepare: false));
        Assert.Equal(3, fe.WaitUsed(0).Token);
        Assert.Equal(4, fe.WaitUsed(0).Token);
        Assert.Equal(5, fe.WaitUsed(0).Token);
        Assert.Equal(5, fe.UsedIndex(0));
        foreach (var st in new[] { s3, s4, s5 }) Assert.Equal(0, fe.Get(st, 1)[0]);
        Assert.Equal(5u, fe.GetVringBase(0));
        Assert.False(fe.Queues[0]!.TryGetUsed(fe.View, out _, out _)); // nothing completed twice
        for (int h = 0; h < 256; h++) Assert.Equal(0, b.Inflight(h));
        Assert.Equal(5, b.Header(14));
    }

    [Fact]
    public void FrontendDisconnectsMidIo_ReconnectsWithTheSameBuffer_EveryRequestCompletesExactlyOnce()
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures, Proto);
        using var b = GetInflight(fe);
        Assert.Equal(0ul, SetInflight(fe, b));
        fe.SetupRing(0);
        const int n = 80; // 3 descriptors each in a ring of 256
        var status = new Iova[n + 1];
        for (int t = 1; t <= n; t++) status[t] = Io.AddBlk(fe, 0, BlkRequestType.Out, (ulong)t * 8, Pattern(t), 0, t).Status;
        fe.Connection.Dispose(); // while the device works through them
        Assert.Null(f.WaitSessionEnded());

        fe.Reconnect(f.SocketPath);
        Assert.Equal(0ul, Start(fe, b, fe.UsedIndex(0), prepare: false)); // QEMU: last_avail_idx := used->idx
        var seen = new HashSet<int>();
        for (int i = 0; i < n; i++)
        {
            int token = fe.WaitUsed(0).Token;
            Assert.True(seen.Add(token), $"request {token} completed twice");
        }
        Assert.Equal(n, fe.UsedIndex(0));
        for (int t = 1; t <= n; t++) Assert.Equal(0, fe.Get(status[t], 1)[0]);
        for (int t = 1; t <= n; t += 17) Assert.Equal(Pattern(t), Io.Blk(fe, BlkRequestType.In, (ulong)t * 8, null, 4096, 1000 + t).Data);
    }

    [Fact]
    public void FrontendDiesMidIo_FileBackedDisk_HoldsEveryCompletedWrite()
    {
        string image = Path.Combine(Path.GetTempPath(), "uvdpa-vu-img-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllBytes(image, new byte[8 << 20]);
        try
        {
            using var f = DeviceFixture.BlkFile(image);
            var completed = new List<int>();
            using (var fe = f.Connect())
            {
                fe.Negotiate(BlkFeatures, Proto);
                using var b = GetInflight(fe);
                Assert.Equal(0ul, SetInflight(fe, b));
                fe.SetupRing(0);
                const int n = 80;
                for (int t = 1; t <= n; t++) Io.AddBlk(fe, 0, BlkRequestType.Out, (ulong)t * 8, Pattern(t), 0, t);
                while (completed.Count < 16) completed.Add(fe.WaitUsed(0).Token);
                while (fe.Queues[0]!.TryGetUsed(fe.View, out int token, out _)) completed.Add(token);
            } // the front-end dies here, requests still in the ring
            Assert.Null(f.WaitSessionEnded());
            Assert.Equal(0, f.Device.GetStatus());
            using var file = File.OpenRead(image);
            var buffer = new byte[4096];
            foreach (int t in completed)
            {
                file.Position = t * 8L * 512;
                file.ReadExactly(buffer);
                Assert.Equal(Pattern(t), buffer);
            }
        }
        finally
        {
            File.Delete(image);
        }
    }

    public static TheoryData<string> CorruptBuffers => new() { "version", "desc-num", "not-available", "inflight-byte", "head-beyond-ring" };

    /// <summary>The buffer is the front-end's memory: a corrupt one refuses the ring start (NACK), nothing is resubmitted.</summary>
    [Theory]
    [MemberData(nameof(CorruptBuffers))]
    public void CorruptInflightBuffer_RefusesTheRingStart(string corruption)
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures, Proto);
        using var b = GetInflight(fe);
        Assert.Equal(0ul, SetInflight(fe, b));
        fe.PrepareRing(0, 128);
        switch (corruption)
        {
            case "version": b.View.TryWriteUInt16(new Iova(8), 2); break;
            case "desc-num": b.View.TryWriteUInt16(new Iova(10), 128); break;
            case "not-available": b.MarkInflight(5, 1); break; // nothing was made available
            case "inflight-byte": b.View.TryWrite(new Iova(16 + 16 * 3), [(byte)0x80]); break;
            case "head-beyond-ring": b.MarkInflight(200, 1); break; // ring of 128
        }
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 128 }));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringAddr, fe.RingAddresses[0]));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 }));
        Assert.Equal(1ul, fe.SendAck(FrontendRequest.SetVringKick, 0UL, fe.Kicks[0]!.Descriptor));
        Assert.False(f.Device.Ops.GetVqReady(0));
    }

    [Fact]
    public void SetInflightFd_ShortOrTruncatedBuffer_IsNacked()
    {
        using var f = DeviceFixture.Blk();
        using var fe = f.Connect();
        fe.Negotiate(BlkFeatures, Proto);
        using var small = MemFd.Create("short", 4096);
        // Declared big enough, but the file holds only 4 KiB: mapping it would SIGBUS on access.
        Assert.Equal(1ul, fe.SendAck(FrontendRequest.SetInflightFd, new VhostUserInflight { MmapSize = 8192, NumQueues = 1, QueueSize = 256 }, small));
        // mmap_size smaller than 1 queue of 256 descriptors needs.
        Assert.Equal(1ul, fe.SendAck(FrontendRequest.SetInflightFd, new VhostUserInflight { MmapSize = 1024, NumQueues = 1, QueueSize = 256 }, small));
        fe.SetupRing(0);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Flush, 0, null, 0, 1).Status);
    }
}
