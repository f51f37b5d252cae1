using System.Runtime.InteropServices;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>
/// The control-plane bad inputs of shared/docs/reference/vhost-user.md §6.2 (items 1–11) not already in
/// <see cref="ValidationTests"/>, one named case each. A malformed message closes that connection only: the device is
/// reset and the next front-end works. A well-formed request the back-end refuses is NACKed and the session goes on.
/// </summary>
public sealed class BadInputTests
{
    private static readonly ulong Features = (1UL << VirtioFeatures.Version1) | (1UL << NetFeatures.Mac);
    private const ProtocolFeatures AllProto = ProtocolFeatures.Mq | ProtocolFeatures.ReplyAck | ProtocolFeatures.Config | ProtocolFeatures.Status | ProtocolFeatures.InflightShmfd;

    private static byte[] State(uint index, uint num)
    {
        var b = new byte[8];
        MemoryMarshal.Write(b, new VhostVringState { Index = index, Num = num });
        return b;
    }

    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    private static byte[] Table(uint n, uint padding = 0, params VhostUserMemoryRegion[] regions)
    {
        var t = new byte[8 + 32 * regions.Length];
        MemoryMarshal.Write(t, n);
        MemoryMarshal.Write(t.AsSpan(4), padding);
        for (int i = 0; i < regions.Length; i++) MemoryMarshal.Write(t.AsSpan(8 + 32 * i), regions[i]);
        return t;
    }

    private static byte[] Config(uint offset, uint size, uint flags = 0, int payload = -1)
    {
        var c = new byte[12 + (payload < 0 ? (int)size : payload)];
        MemoryMarshal.Write(c, new VhostUserConfigHeader { Offset = offset, ConfigSize = size, Flags = flags });
        return c;
    }

    /// <summary>Malformed messages: the connection closes, with the failing request and reason.</summary>
    public static TheoryData<string> Closing => new()
    {
        // 1. header
        "version-0", "version-2", "reserved-flag-bit", "reply-flag-on-request", "request-44", "request-1000",
        "size-over-4096", "eof-mid-payload", "eof-mid-header",
        // 2. descriptors
        "kick-two-fds", "nine-fds-across-one-message", "fd-on-set-owner", "fd-on-get-vring-base",
        // 3. memory table
        "regions-ffffffff", "memtable-padding", "add-mem-reg-not-offered", "rem-mem-reg-not-offered", "get-max-mem-slots-not-offered",
        // 4. indices (8-bit in fd messages, u32 elsewhere)
        "num-index-255", "num-index-256", "base-index-0x10000", "addr-index-ffffffff", "get-base-index-256", "enable-index-255",
        "call-index-255", "err-index-2", "inflight-num-queues-0", "inflight-num-queues-too-many", "inflight-queue-size-0", "inflight-queue-size-3",
        // 6. vring address
        "addr-unknown-flags",
        // 8. logging (not offered)
        "set-log-base", "set-log-fd",
        // 9. config
        "config-size-over-256", "config-size-0", "config-unknown-flags", "config-payload-shorter-than-size",
        // 11. gating and values
        "enable-1-without-protocol-features", "status-without-negotiation", "status-over-ff", "vring-kick-inband", "iotlb-msg", "set-backend-req-fd",
        "inflight-without-negotiation",
    };

    [Theory]
    [MemberData(nameof(Closing))]
    public void Malformed_ClosesTheConnection_ResetsTheDevice_NextFrontendWorks(string input)
    {
        using var f = DeviceFixture.Blk();
        using (var fe = f.Connect())
        {
            bool negotiate = input is not ("enable-1-without-protocol-features" or "status-without-negotiation" or "inflight-without-negotiation");
            if (negotiate)
            {
                fe.Negotiate(1UL << VirtioFeatures.Version1, AllProto);
                fe.SetupRing(0);
                Assert.NotEqual(0, f.Device.GetStatus());
            }
            else
            {
                fe.GetU64(FrontendRequest.GetFeatures);
            }
            using var e1 = EventFd.Create();
            using var e2 = EventFd.Create();
            const uint v = VhostUserHeader.Version;
            switch (input)
            {
                case "version-0": fe.SendRaw(1, 0, 0); break;
                case "version-2": fe.SendRaw(1, 2, 0); break;
                case "reserved-flag-bit": fe.SendRaw(1, v | 0x10, 0); break;
                case "reply-flag-on-request": fe.SendRaw(1, v | VhostUserHeader.ReplyFlag, 0); break;
                case "request-44": fe.SendRaw(44, v, 0); break;
                case "request-1000": fe.SendRaw(1000, v, 0); break;
                case "size-over-4096": fe.SendRaw((uint)FrontendRequest.SetFeatures, v, 4097); break;
                case "eof-mid-payload": fe.SendRaw((uint)FrontendRequest.SetFeatures, v, 8, new byte[4]); fe.Connection.Socket.Shutdown(); break;
                case "eof-mid-header": fe.Connection.Socket.Send(new byte[5]); fe.Connection.Socket.Shutdown(); break;
                case "kick-two-fds": fe.Send(FrontendRequest.SetVringKick, 0UL, false, e1.Descriptor, e2.Descriptor); break;
                case "nine-fds-across-one-message":
                    {
                        // 8 descriptors with the header, one more with the payload: 9 for one message.
                        var fds = Enumerable.Range(0, 8).Select(_ => e1.Descriptor).ToArray();
                        var h = new byte[VhostUserHeader.Size];
                        new VhostUserHeader { Request = (uint)FrontendRequest.SetFeatures, Flags = v, PayloadSize = 8 }.Write(h);
                        fe.Connection.Socket.Send(h, fds);
                        fe.Connection.Socket.Send(U64(1UL << 32), [e2.Descriptor]);
                        break;
                    }
                case "fd-on-set-owner": fe.Send(FrontendRequest.SetOwner, default, false, e1.Descriptor); break;
                case "fd-on-get-vring-base": fe.Send(FrontendRequest.GetVringBase, State(0, 0), false, e1.Descriptor); break;
                case "regions-ffffffff": fe.Send(FrontendRequest.SetMemTable, Table(0xffffffff)); break;
                case "memtable-padding":
                    fe.Send(FrontendRequest.SetMemTable, Table(1, 7, new VhostUserMemoryRegion { GuestPhysAddr = TestFrontend.GuestBase, MemorySize = 4096, UserspaceAddr = TestFrontend.FrontendBase }), false, fe.Region.Descriptor!);
                    break;
                case "add-mem-reg-not-offered": fe.Send(FrontendRequest.AddMemReg, new byte[40], false, fe.Region.Descriptor!); break;
                case "rem-mem-reg-not-offered": fe.Send(FrontendRequest.RemMemReg, new byte[40]); break;
                case "get-max-mem-slots-not-offered": fe.Send(FrontendRequest.GetMaxMemSlots); break;
                case "num-index-255": fe.Send(FrontendRequest.SetVringNum, State(255, 256)); break;
                case "num-index-256": fe.Send(FrontendRequest.SetVringNum, State(256, 256)); break;
                case "base-index-0x10000": fe.Send(FrontendRequest.SetVringBase, State(0x10000, 0)); break;
                case "addr-index-ffffffff": fe.Send(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = 0xffffffff }); break;
                case "get-base-index-256": fe.Send(FrontendRequest.GetVringBase, State(256, 0)); break;
                case "enable-index-255": fe.Send(FrontendRequest.SetVringEnable, State(255, 1)); break;
                case "call-index-255": fe.Send(FrontendRequest.SetVringCall, 255UL, false, e1.Descriptor); break;
                case "err-index-2": fe.Send(FrontendRequest.SetVringErr, 2UL, false, e1.Descriptor); break;
                case "inflight-num-queues-0": fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 0, QueueSize = 256 }); break;
                case "inflight-num-queues-too-many": fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 0xffff, QueueSize = 0x8000 }); break;
                case "inflight-queue-size-0": fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 1, QueueSize = 0 }); break;
                case "inflight-queue-size-3": fe.Send(FrontendRequest.SetInflightFd, new VhostUserInflight { MmapSize = 4096, NumQueues = 1, QueueSize = 3 }, false, e1.Descriptor); break;
                case "addr-unknown-flags": fe.Send(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = 0, Flags = 2 }); break;
                case "set-log-base": fe.Send(FrontendRequest.SetLogBase, new byte[16], false, e1.Descriptor); break;
                case "set-log-fd": fe.Send(FrontendRequest.SetLogFd, default, false, e1.Descriptor); break;
                case "config-size-over-256": fe.Send(FrontendRequest.GetConfig, Config(0, 257)); break;
                case "config-size-0": fe.Send(FrontendRequest.GetConfig, Config(0, 0)); break;
                case "config-unknown-flags": fe.Send(FrontendRequest.SetConfig, Config(32, 1, flags: 2)); break;
                case "config-payload-shorter-than-size": fe.Send(FrontendRequest.SetConfig, Config(0, 8, payload: 4)); break;
                case "enable-1-without-protocol-features": fe.Send(FrontendRequest.SetVringEnable, State(0, 1)); break;
                case "status-without-negotiation": fe.Send(FrontendRequest.GetStatus); break;
                case "status-over-ff": fe.Send(FrontendRequest.SetStatus, 0x100UL); break;
                case "vring-kick-inband": fe.Send(FrontendRequest.VringKick, State(0, 0)); break;
                case "iotlb-msg": fe.Send(FrontendRequest.IotlbMsg, new byte[32]); break;
                case "set-backend-req-fd": fe.Send(FrontendRequest.SetBackendReqFd, default, false, e1.Descriptor); break;
                case "inflight-without-negotiation": fe.Send(FrontendRequest.GetInflightFd, new VhostUserInflight { NumQueues = 1, QueueSize = 256 }); break;
                default: throw new ArgumentOutOfRangeException(nameof(input));
            }
            Assert.True(fe.WaitClosed(), "the connection stayed open");
            var error = Assert.IsType<VhostUserProtocolException>(f.WaitSessionEnded());
            Assert.False(string.IsNullOrEmpty(error.Message));
        }
        Assert.Equal(0, f.Device.GetStatus());
        Assert.False(f.Device.Ops.GetVqReady(0));
        AssertNextFrontendWorks(f);
    }

    /// <summary>Well-formed requests the back-end refuses: NACK with REPLY_ACK, the session and device state go on.</summary>
    public static TheoryData<string> Nacked => new()
    {
        "uaddr-overflow", "mmap-offset-overflow", "mmap-offset-beyond-fd", "mmap-offset-unaligned", "memory-fd-is-a-socket", "memory-fd-is-an-eventfd",
        "overlapping-frontend-addresses", "vring-num-3", "vring-num-32769", "vring-num-65535", "vring-num-while-running", "base-reserved-bits",
        "base-while-running", "addr-while-running", "ring-past-region-end", "avail-misaligned", "used-misaligned",
        "config-offset-overflow", "features-while-running", "set-config-mac-read-only", "set-config-migration-flag",
    };

    [Theory]
    [MemberData(nameof(Nacked))]
    public void Refused_IsNacked_TheSessionAndTheRunningRingGoOn(string input)
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features);
        fe.SetupRing(0);
        fe.SetupRing(1);
        ulong fva = TestFrontend.FrontendBase, gpa = TestFrontend.GuestBase;
        using var sock = UnixStreamSocket.CreatePair().First;
        using var eventFd = EventFd.Create();
        var reg = new VhostUserMemoryRegion { GuestPhysAddr = gpa, MemorySize = 4096, UserspaceAddr = fva };
        ulong ack = input switch
        {
            "uaddr-overflow" => MemTable(fe, reg with { UserspaceAddr = ulong.MaxValue - 100 }),
            "mmap-offset-overflow" => MemTable(fe, reg with { MmapOffset = ulong.MaxValue - 0xfff }),
            "mmap-offset-beyond-fd" => MemTable(fe, reg with { MemorySize = (ulong)fe.Region.Size, MmapOffset = 4096 }), // covers the rings; its last page is past the end of the memfd
            "mmap-offset-unaligned" => MemTable(fe, reg with { MmapOffset = 8 }),
            "memory-fd-is-a-socket" => MemTable(fe, sock.Descriptor, reg),
            "memory-fd-is-an-eventfd" => MemTable(fe, eventFd.Descriptor, reg),
            "overlapping-frontend-addresses" => MemTable(fe, reg, reg with { GuestPhysAddr = gpa + 0x100000 }),
            "vring-num-3" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 3 }),
            "vring-num-32769" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 32769 }),
            "vring-num-65535" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 65535 }),
            "vring-num-while-running" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 128 }),
            "base-reserved-bits" => fe.SendAck(FrontendRequest.SetVringBase, new VhostVringState { Index = 0, Num = 0x10000 }),
            "base-while-running" => fe.SendAck(FrontendRequest.SetVringBase, new VhostVringState { Index = 0, Num = 5 }),
            "addr-while-running" => fe.SendAck(FrontendRequest.SetVringAddr, fe.RingAddresses[0] with { DescUserAddr = fva + 0x10000 }),
            "ring-past-region-end" => NewRingAddr(fe, fva + (ulong)fe.Region.Size - 16, fva, fva + 0x1000),
            "avail-misaligned" => NewRingAddr(fe, fva, fva + 0x1001, fva + 0x2000),
            "used-misaligned" => NewRingAddr(fe, fva, fva + 0x1000, fva + 0x2002),
            "config-offset-overflow" => ConfigReplySize(fe, 0xffffffff, 8),
            "set-config-mac-read-only" => SetConfigAck(fe, Config(0, 6)),
            "set-config-migration-flag" => SetConfigAck(fe, Config(0, 6, flags: 1)),
            "features-while-running" => fe.SendAck(FrontendRequest.SetFeatures, (1UL << VirtioFeatures.Version1) | (1UL << 30)),
            _ => throw new ArgumentOutOfRangeException(nameof(input)),
        };
        Assert.Equal(1ul, ack);
        Assert.True(f.Device.Ops.GetVqReady(0));
        Io.NetLoopback(fe, 4, 100); // the rings still run on the old, valid state
        Assert.Equal(1u, fe.GetVringBase(0));
    }

    private static ulong MemTable(TestFrontend fe, params VhostUserMemoryRegion[] regions)
        => MemTable(fe, fe.Region.Descriptor!, regions);

    private static ulong MemTable(TestFrontend fe, FileDescriptor fd, params VhostUserMemoryRegion[] regions)
    {
        fe.Send(FrontendRequest.SetMemTable, Table((uint)regions.Length, 0, regions), true, regions.Select(_ => fd).ToArray());
        using var m = fe.ReadReply(FrontendRequest.SetMemTable);
        return m.ReadU64();
    }

    /// <summary>Stops ring 1, offers it bad addresses, then restarts it on its real ones (SET_VRING_ADDR + KICK).</summary>
    private static ulong NewRingAddr(TestFrontend fe, ulong desc, ulong avail, ulong used)
    {
        Assert.Equal(0u, fe.GetVringBase(1));
        ulong ack = fe.SendAck(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = 1, DescUserAddr = desc, AvailUserAddr = avail, UsedUserAddr = used });
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringAddr, fe.RingAddresses[1]));
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringKick, 1UL, fe.Kicks[1]!.Descriptor));
        return ack;
    }

    private static ulong SetConfigAck(TestFrontend fe, byte[] request)
    {
        fe.Send(FrontendRequest.SetConfig, request, true);
        using var m = fe.ReadReply(FrontendRequest.SetConfig);
        return m.ReadU64();
    }

    private static ulong ConfigReplySize(TestFrontend fe, uint offset, uint size)
    {
        fe.Send(FrontendRequest.GetConfig, Config(offset, size), true);
        using var m = fe.ReadReply(FrontendRequest.GetConfig);
        return m.Read<VhostUserConfigHeader>().ConfigSize == 0 ? 1ul : 0ul; // size 0 = error (vhost-user.rst)
    }

    private static void AssertNextFrontendWorks(DeviceFixture f)
    {
        using var next = f.Connect();
        next.Negotiate(1UL << VirtioFeatures.Version1);
        next.SetupRing(0);
        Assert.Equal(0, Io.Blk(next, BlkRequestType.Flush, 0, null, 0, 1).Status);
    }
}
