using System.Runtime.InteropServices;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>
/// Replays the message orders of shared/docs/reference/vhost-user.md §3 (QEMU 7.2 vhost-user-blk and virtio-net,
/// DPDK 22.11 virtio_user) message by message, asserting every reply and the device's state at each phase.
/// </summary>
public sealed class GoldenSequenceTests
{
    private const ulong Bit30 = 1UL << 30;
    private const byte Ack = (byte)DeviceStatus.Acknowledge, Driver = (byte)DeviceStatus.Driver;
    private const byte FeaturesOk = (byte)DeviceStatus.FeaturesOk, DriverOk = (byte)DeviceStatus.DriverOk;

    /// <summary>QEMU 7.2's protocol-feature mask (bits 0–16); it acks every offered bit in it (net hides CONFIG).</summary>
    private const ulong QemuMask = (1UL << 17) - 1;

    /// <summary>DPDK 22.11 virtio_user keeps MQ | REPLY_ACK | STATUS.</summary>
    private const ProtocolFeatures DpdkMask = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Status;

    // ---------------- QEMU 7.2 vhost-user-blk-pci (§3.1) ----------------

    [Fact]
    public void Qemu72Blk_RealizeStartIoStopRestart_ThenReconnect()
    {
        using var f = DeviceFixture.Blk();
        ulong guestFeatures = 1UL << VirtioFeatures.Version1 | 1UL << BlkFeatures.Flush | 1UL << BlkFeatures.BlkSize | 1UL << BlkFeatures.SegMax;
        using var fe = f.Connect();
        using var inflight = new Inflight();
        var masked = QemuBlkRealize(fe);
        QemuBlkStart(fe, guestFeatures, baseIndex: 0, inflight, prepare: true);
        Assert.Equal(Ack | Driver | FeaturesOk | DriverOk, f.Device.GetStatus());
        Assert.True(f.Device.Ops.GetVqReady(0));
        Assert.NotNull(inflight.Fd); // INFLIGHT_SHMFD was offered and used

        var pattern = Pattern(4096, 1);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, 16, pattern, 0, 1).Status);
        Assert.Equal(pattern, Io.Blk(fe, BlkRequestType.In, 16, null, 4096, 2).Data);

        // C. Stop: SET_STATUS(0) first (the 7.2 trap), then ENABLE(0), then GET_VRING_BASE.
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0UL));
        Assert.Equal(0ul, fe.GetU64(FrontendRequest.GetStatus));
        Assert.True(f.Device.Ops.GetVqReady(0)); // the reset waits for the rings
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 0 }));
        ushort stoppedAt = (ushort)fe.GetVringBase(0);
        Assert.Equal(2, stoppedAt);
        Assert.Equal(0, f.Device.GetStatus());
        Assert.False(f.Device.Ops.GetVqReady(0));

        // B again (VM resumed): same rings and inflight buffer, resumes at the returned base.
        QemuBlkStart(fe, guestFeatures, baseIndex: stoppedAt, inflight, prepare: false);
        Assert.Equal(0, Io.Blk(fe, BlkRequestType.Flush, 0, null, 0, 3).Status);
        Assert.Equal(3, fe.UsedIndex(0));
        masked.Dispose();

        // D. The connection drops; QEMU stops locally (last_avail_idx := used->idx), reconnects, repeats A.1–A.8
        // without GET_CONFIG, then B without GET_INFLIGHT_FD (it kept the buffer).
        fe.Connection.Dispose();
        Assert.Null(f.WaitSessionEnded());
        Assert.Equal(0, f.Device.GetStatus());
        fe.Reconnect(f.SocketPath);
        using (QemuBlkRealize(fe, getConfig: false))
        {
            var fd = inflight.Fd;
            QemuBlkStart(fe, guestFeatures, baseIndex: fe.UsedIndex(0), inflight, prepare: false);
            Assert.Same(fd, inflight.Fd);
            var p = Pattern(512, 9);
            Assert.Equal(0, Io.Blk(fe, BlkRequestType.Out, 0, p, 0, 4).Status);
            Assert.Equal(p, Io.Blk(fe, BlkRequestType.In, 0, null, 512, 5).Data);
            Assert.Equal(5, fe.UsedIndex(0));
        }
    }

    /// <summary>The inflight memfd QEMU keeps across stops and reconnects.</summary>
    private sealed class Inflight : IDisposable
    {
        public FileDescriptor? Fd;
        public VhostUserInflight Info;
        public void Dispose() => Fd?.Dispose();
    }

    /// <summary>§3.1 A: realize. Returns the masked call notifier (kept alive by the caller).</summary>
    private static EventFd QemuBlkRealize(TestFrontend fe, bool getConfig = true)
    {
        ulong offered = fe.GetU64(FrontendRequest.GetFeatures);
        Assert.NotEqual(0ul, offered & Bit30);
        Assert.Equal(0ul, offered & (1UL << VirtioFeatures.AccessPlatform));
        ulong proto = fe.GetU64(FrontendRequest.GetProtocolFeatures);
        Assert.NotEqual(0ul, proto & (ulong)ProtocolFeatures.Config); // QEMU blk refuses back-ends without it
        ulong acked = proto & QemuMask;
        fe.Send(FrontendRequest.SetProtocolFeatures, acked);
        Assert.Equal(1ul, fe.GetU64(FrontendRequest.GetQueueNum)); // num-queues=1
        fe.Send(FrontendRequest.SetOwner);
        Assert.Equal(offered, fe.GetU64(FrontendRequest.GetFeatures));
        var masked = EventFd.Create(nonBlocking: true);
        using var err = EventFd.Create(nonBlocking: true);
        fe.Send(FrontendRequest.SetVringCall, 0UL, false, masked.Descriptor);
        fe.Send(FrontendRequest.SetVringErr, 0UL, false, err.Descriptor);
        if (getConfig)
        {
            var req = new byte[VhostUserConfigHeader.Size + 60];
            MemoryMarshal.Write(req, new VhostUserConfigHeader { Offset = 0, ConfigSize = 60 });
            fe.Send(FrontendRequest.GetConfig, req);
            using var reply = fe.ReadReply(FrontendRequest.GetConfig);
            Assert.Equal(req.Length, reply.Payload.Length);
            Assert.Equal(60u, reply.Read<VhostUserConfigHeader>().ConfigSize);
        }
        return masked;
    }

    /// <summary>§3.1 B: DRIVER_OK (7.2 order). <paramref name="prepare"/> false restarts existing rings.</summary>
    private static void QemuBlkStart(TestFrontend fe, ulong guestFeatures, ushort baseIndex, Inflight inflight, bool prepare)
    {
        ulong features = guestFeatures | Bit30;
        fe.Send(FrontendRequest.SetFeatures, features);
        AddStatus(fe, FeaturesOk);
        if (inflight.Fd is null)
        {
            fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 1, QueueSize = 256 });
            using var reply = fe.ReadReply(FrontendRequest.GetInflightFd);
            inflight.Info = reply.Read<VhostUserInflight>();
            Assert.NotEqual(0ul, inflight.Info.MmapSize);
            inflight.Fd = reply.TakeDescriptor(0);
        }
        fe.Send(FrontendRequest.SetInflightFd, inflight.Info, false, inflight.Fd);
        var addr = prepare ? fe.PrepareRing(0) : fe.RingAddresses[0];
        fe.Send(FrontendRequest.SetVringCall, 0UL, false, fe.Calls[0]!.Descriptor); // the guest notifier, before dev_start
        fe.Send(FrontendRequest.SetFeatures, features);
        AddStatus(fe, FeaturesOk);
        fe.SetMemTable();
        fe.Send(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 256 });
        fe.Send(FrontendRequest.SetVringBase, new VhostVringState { Index = 0, Num = baseIndex });
        fe.Send(FrontendRequest.SetVringAddr, addr);
        fe.Send(FrontendRequest.SetVringKick, 0UL, false, fe.Kicks[0]!.Descriptor);
        fe.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 }); // fire-and-forget in 7.2
        AddStatus(fe, Ack | Driver | DriverOk);
    }

    /// <summary>QEMU's vhost_user_add_status: GET_STATUS, and SET_STATUS(old | bits) with NEED_REPLY when bits are missing.</summary>
    private static void AddStatus(TestFrontend fe, int bits)
    {
        ulong s = fe.GetU64(FrontendRequest.GetStatus);
        ulong want = (uint)bits;
        if ((s & want) == want) return;
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, s | want));
        Assert.Equal(s | want, fe.GetU64(FrontendRequest.GetStatus));
    }

    // ---------------- QEMU 7.2 -netdev vhost-user + virtio-net-pci (§3.2) ----------------

    [Fact]
    public void Qemu72Net_EnableBeforeConfigure_StartLoopback_StopStatusFirst_Reconnect()
    {
        using var f = DeviceFixture.Net();
        ulong guest = 1UL << VirtioFeatures.Version1 | 1UL << NetFeatures.Mac;
        using (var fe = f.Connect())
        {
            using var calls = QemuNetConnect(fe);
            // B. FEATURES_OK in the guest: enable pair 0 before any ring exists.
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 }));
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 1, Num = 1 }));
            Assert.False(f.Device.Ops.GetVqReady(0));
            QemuNetStart(fe, guest, 0, 0, prepare: true);
            Assert.Equal(Ack | Driver | FeaturesOk | DriverOk, f.Device.GetStatus());
            for (int i = 0; i < 3; i++) Io.NetLoopback(fe, (byte)i, 10 * i + 1);

            // E. Stop: SET_STATUS(0) (last pair) then GET_VRING_BASE ×2, no ENABLE(0).
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, 0UL));
            Assert.True(f.Device.Ops.GetVqReady(1));
            Assert.Equal(3u, fe.GetVringBase(0));
            Assert.NotEqual(0, f.Device.GetStatus()); // ring 1 still runs
            Assert.Equal(3u, fe.GetVringBase(1));
            Assert.Equal(0, f.Device.GetStatus());

            // C again (link up): resumes at the bases.
            QemuNetStart(fe, guest, 3, 3, prepare: false);
            Io.NetLoopback(fe, 7, 40);
            Assert.Equal(4, fe.UsedIndex(0));
        }
        Assert.Null(f.WaitSessionEnded());
        Assert.Equal(0, f.Device.GetStatus());

        // F. Reconnect: A again, then C with bases = used idx (fresh rings here).
        using var again = f.Connect();
        using var calls2 = QemuNetConnect(again);
        QemuNetStart(again, guest, 0, 0, prepare: true);
        Io.NetLoopback(again, 3, 1);
    }

    private sealed class Fds : IDisposable
    {
        public List<EventFd> List { get; } = [];
        public void Dispose() { foreach (var e in List) e.Dispose(); }
    }

    /// <summary>§3.2 A for one pair: QEMU hides F_CONFIG from net.</summary>
    private static Fds QemuNetConnect(TestFrontend fe)
    {
        var fds = new Fds();
        ulong offered = fe.GetU64(FrontendRequest.GetFeatures);
        Assert.Equal(0ul, offered & (1UL << NetFeatures.CtrlVq));
        ulong proto = fe.GetU64(FrontendRequest.GetProtocolFeatures);
        fe.Send(FrontendRequest.SetProtocolFeatures, proto & QemuMask & ~(ulong)ProtocolFeatures.Config);
        Assert.Equal(1ul, fe.GetU64(FrontendRequest.GetQueueNum));
        fe.Send(FrontendRequest.SetOwner);
        Assert.Equal(offered, fe.GetU64(FrontendRequest.GetFeatures));
        for (int i = 0; i < 2; i++)
        {
            var masked = EventFd.Create(nonBlocking: true);
            var err = EventFd.Create(nonBlocking: true);
            fds.List.Add(masked);
            fds.List.Add(err);
            fe.Send(FrontendRequest.SetVringCall, (ulong)i, false, masked.Descriptor);
            fe.Send(FrontendRequest.SetVringErr, (ulong)i, false, err.Descriptor);
        }
        return fds;
    }

    /// <summary>§3.2 C (7.2): ENABLE(1) ×2 before the ring setup, then vhost_dev_start(vrings = false).</summary>
    private static void QemuNetStart(TestFrontend fe, ulong guest, ushort rxBase, ushort txBase, bool prepare)
    {
        fe.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 });
        fe.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 1, Num = 1 });
        fe.Send(FrontendRequest.SetFeatures, guest | Bit30);
        AddStatus(fe, FeaturesOk);
        fe.SetMemTable();
        for (int i = 0; i < 2; i++)
        {
            var addr = prepare ? fe.PrepareRing(i) : fe.RingAddresses[i];
            fe.Send(FrontendRequest.SetVringNum, new VhostVringState { Index = (uint)i, Num = 256 });
            fe.Send(FrontendRequest.SetVringBase, new VhostVringState { Index = (uint)i, Num = i == 0 ? rxBase : txBase });
            fe.Send(FrontendRequest.SetVringAddr, addr);
            fe.Send(FrontendRequest.SetVringKick, (ulong)i, false, fe.Kicks[i]!.Descriptor);
            fe.Send(FrontendRequest.SetVringCall, (ulong)i, false, fe.Calls[i]!.Descriptor);
        }
        AddStatus(fe, Ack | Driver | DriverOk);
    }

    // ---------------- DPDK 22.11 virtio_user (§3.3) ----------------

    [Fact]
    public void Dpdk2211VirtioUser_ProbeTrafficClose_ThenServerModeReconnect()
    {
        using var f = DeviceFixture.Net();
        ulong guest = 1UL << VirtioFeatures.Version1;
        using (var fe = f.Connect())
        {
            DpdkProbe(fe, guest, reconnect: false);
            Assert.Equal(Ack | Driver | FeaturesOk | DriverOk, f.Device.GetStatus());
            for (int i = 0; i < 4; i++) Io.NetLoopback(fe, (byte)i, 10 * i + 1);

            // D. Close: ENABLE(0) ×2, GET_VRING_BASE for all rings, no SET_STATUS(0).
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 0 }));
            Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 1, Num = 0 }));
            Assert.False(f.Device.Ops.GetVqReady(0));
            Assert.Equal(4u, fe.GetVringBase(0));
            Assert.Equal(4u, fe.GetVringBase(1));
        }
        Assert.Null(f.WaitSessionEnded());
        Assert.Equal(0, f.Device.GetStatus());

        // F. Server-mode reconnect: ENABLE(0) and GET_VRING_BASE before GET_FEATURES, no SET_OWNER.
        using var again = f.Connect();
        again.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 0 });
        again.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 1, Num = 0 });
        Assert.Equal(0u, again.GetVringBase(0));
        Assert.Equal(0u, again.GetVringBase(1));
        DpdkProbe(again, guest, reconnect: true);
        Io.NetLoopback(again, 5, 1);
    }

    /// <summary>§3.3 A: probe ends with DRIVER_OK. STATUS messages go with NEED_REPLY when REPLY_ACK is negotiated.</summary>
    private static void DpdkProbe(TestFrontend fe, ulong guest, bool reconnect)
    {
        if (!reconnect) fe.Send(FrontendRequest.SetOwner);
        ulong offered = fe.GetU64(FrontendRequest.GetFeatures);
        ulong proto = fe.GetU64(FrontendRequest.GetProtocolFeatures);
        var acked = (ProtocolFeatures)proto & DpdkMask;
        Assert.Equal(DpdkMask, acked);
        fe.Send(FrontendRequest.SetProtocolFeatures, (ulong)acked);
        // FEATURES_OK: CALL for rx then tx rings first ("vhost depends on this msg to allocate virtqueue pair").
        fe.PrepareRing(0);
        fe.PrepareRing(1);
        fe.Send(FrontendRequest.SetVringCall, 0UL, false, fe.Calls[0]!.Descriptor);
        fe.Send(FrontendRequest.SetVringCall, 1UL, false, fe.Calls[1]!.Descriptor);
        fe.Send(FrontendRequest.SetFeatures, (offered & guest) | Bit30);
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, (ulong)(Ack | Driver | FeaturesOk)));
        Assert.Equal((ulong)(Ack | Driver | FeaturesOk), fe.GetU64(FrontendRequest.GetStatus));
        // DRIVER_OK: virtio_user_start_device.
        Assert.Equal((ulong)(Ack | Driver | FeaturesOk), fe.GetU64(FrontendRequest.GetStatus));
        fe.SetMemTable();
        for (int i = 0; i < 2; i++)
        {
            fe.Send(FrontendRequest.SetVringNum, new VhostVringState { Index = (uint)i, Num = 256 });
            fe.Send(FrontendRequest.SetVringBase, new VhostVringState { Index = (uint)i, Num = 0 });
            fe.Send(FrontendRequest.SetVringAddr, fe.RingAddresses[i]);
            fe.Send(FrontendRequest.SetVringKick, (ulong)i, false, fe.Kicks[i]!.Descriptor);
        }
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 }));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 1, Num = 1 }));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetStatus, (ulong)(Ack | Driver | FeaturesOk | DriverOk)));
        Assert.Equal((ulong)(Ack | Driver | FeaturesOk | DriverOk), fe.GetU64(FrontendRequest.GetStatus));
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
