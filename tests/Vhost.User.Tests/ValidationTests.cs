using System.Runtime.InteropServices;
using Uvdpa.Vhost.User.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User.Tests;

/// <summary>Bad inputs of vhost-user.md §6 that apply: each closes that connection (or is NACKed), and the next front-end works.</summary>
public sealed class ValidationTests
{
    private static readonly ulong Features = (1UL << VirtioFeatures.Version1) | (1UL << NetFeatures.Mac);

    public static TheoryData<string> ClosingInputs => new()
    {
        "short-payload", "long-payload", "fd-on-get-features", "kick-missing-fd", "kick-nofd-with-fd", "index-out-of-range",
        "too-many-regions", "zero-regions", "memtable-fd-count", "unknown-request", "request-none", "enable-value-2",
        "get-queue-num-without-mq", "config-without-negotiation", "vring-fd-reserved-bits",
    };

    [Theory]
    [MemberData(nameof(ClosingInputs))]
    public void ProtocolError_ClosesTheConnection_TheNextFrontendWorks(string input)
    {
        using var f = DeviceFixture.Net();
        using (var fe = f.Connect())
        {
            bool negotiate = input is not ("get-queue-num-without-mq" or "config-without-negotiation");
            if (negotiate) fe.Negotiate(Features);
            else fe.GetU64(FrontendRequest.GetFeatures);
            using var e = EventFd.Create();
            switch (input)
            {
                case "short-payload": fe.Send(FrontendRequest.SetVringNum, new byte[4]); break;
                case "long-payload": fe.Send(FrontendRequest.SetFeatures, new byte[16]); break;
                case "fd-on-get-features": fe.Send(FrontendRequest.GetFeatures, default, false, e.Descriptor); break;
                case "kick-missing-fd": fe.Send(FrontendRequest.SetVringKick, 0UL); break;
                case "kick-nofd-with-fd": fe.Send(FrontendRequest.SetVringKick, 0x100UL, false, e.Descriptor); break;
                case "index-out-of-range": fe.Send(FrontendRequest.SetVringNum, new VhostVringState { Index = 2, Num = 256 }); break; // 2 = the hidden CVQ
                case "too-many-regions": fe.Send(FrontendRequest.SetMemTable, MemTable(9)); break;
                case "zero-regions": fe.Send(FrontendRequest.SetMemTable, MemTable(0)); break;
                case "memtable-fd-count": fe.Send(FrontendRequest.SetMemTable, MemTable(2), false, fe.Region.Descriptor!); break;
                case "unknown-request": fe.Send((FrontendRequest)99); break;
                case "request-none": fe.Send(FrontendRequest.None); break;
                case "enable-value-2": fe.Send(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 2 }); break;
                case "get-queue-num-without-mq": fe.Send(FrontendRequest.GetQueueNum); break;
                case "config-without-negotiation": fe.Send(FrontendRequest.GetConfig, ConfigRequest(0, 6)); break;
                case "vring-fd-reserved-bits": fe.Send(FrontendRequest.SetVringCall, 0x200UL | 0x100UL); break;
            }
            Assert.True(fe.WaitClosed());
            Assert.IsType<VhostUserProtocolException>(f.WaitSessionEnded());
        }
        Assert.Equal(0, f.Device.GetStatus());
        using var next = f.Connect();
        next.Negotiate(Features);
        next.SetupRing(0);
        Assert.Equal(0u, next.GetVringBase(0));
    }

    public static TheoryData<string> NackedInputs => new()
    {
        "ring-outside-memory", "ring-misaligned", "overlapping-regions", "region-size-0", "region-overflow",
        "features-not-offered", "protocol-features-not-offered", "vring-num-not-power-of-2", "vring-num-0", "config-beyond-space",
    };

    [Theory]
    [MemberData(nameof(NackedInputs))]
    public void RequestError_WithReplyAck_IsNacked_AndTheSessionGoesOn(string input)
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features);
        ulong ack = input switch
        {
            "ring-outside-memory" => Ring(fe, desc: TestFrontend.FrontendBase + (ulong)fe.Region.Size),
            "ring-misaligned" => Ring(fe, desc: TestFrontend.FrontendBase + 8),
            "overlapping-regions" => SendTable(fe, (0x4000_0000, 0x10000, 0x1000_0000), (0x4000_8000, 0x10000, 0x2000_0000)),
            "region-size-0" => SendTable(fe, (0x4000_0000, 0, 0x1000_0000)),
            "region-overflow" => SendTable(fe, (ulong.MaxValue - 0xfff, 0x2000, 0x1000_0000)),
            "features-not-offered" => fe.SendAck(FrontendRequest.SetFeatures, 1UL << VirtioFeatures.AccessPlatform),
            "protocol-features-not-offered" => fe.SendAck(FrontendRequest.SetProtocolFeatures, (ulong)(ProtocolFeatures.ReplyAck | ProtocolFeatures.LogShmfd)),
            "vring-num-not-power-of-2" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 100 }),
            "vring-num-0" => fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 0 }),
            "config-beyond-space" => SetConfig(fe, 4096 - 300),
            _ => throw new ArgumentOutOfRangeException(nameof(input)),
        };
        Assert.Equal(1ul, ack);
        // The session is intact: the front-end's real memory and rings still work.
        fe.SetupRing(0);
        Assert.Equal(0u, fe.GetVringBase(0));
    }

    [Fact]
    public void RequestError_WithoutReplyAck_ClosesTheConnection()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        fe.Negotiate(Features);
        fe.Send(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 256 });
        fe.Send(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = 0, DescUserAddr = 0x10, UsedUserAddr = 0x1000, AvailUserAddr = 0x2000 });
        Assert.True(fe.WaitClosed());
        Assert.IsType<VhostUserRequestException>(f.WaitSessionEnded());
    }

    [Fact]
    public void Ordering_EnableBeforeAddr_CallBeforeFeatures_GetVringBaseOnFreshRing_Work()
    {
        using var f = DeviceFixture.Net();
        using var fe = f.Connect();
        Assert.Equal(0u, fe.GetVringBase(1)); // virtio_user server reconnect: before GET_FEATURES
        using var early = EventFd.Create();
        fe.Send(FrontendRequest.SetVringCall, 1UL, false, early.Descriptor); // DPDK: CALL before SET_FEATURES
        fe.Negotiate(Features);
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringEnable, new VhostVringState { Index = 0, Num = 1 })); // QEMU net
        fe.Send(FrontendRequest.SetOwner); // duplicate
        fe.SetupRing(0);
        fe.SetupRing(1);
        Assert.True(f.Device.Ops.GetVqReady(0));
        Assert.True(f.Device.Ops.GetVqReady(1));
    }

    private static ulong Ring(TestFrontend fe, ulong desc)
    {
        Assert.Equal(0ul, fe.SendAck(FrontendRequest.SetVringNum, new VhostVringState { Index = 0, Num = 256 }));
        return fe.SendAck(FrontendRequest.SetVringAddr, new VhostVringAddr { Index = 0, DescUserAddr = desc, UsedUserAddr = TestFrontend.FrontendBase + 0x2000, AvailUserAddr = TestFrontend.FrontendBase + 0x1000 });
    }

    private static ulong SendTable(TestFrontend fe, params (ulong Gpa, ulong Size, ulong Uaddr)[] regions)
    {
        var t = MemTable(regions.Length);
        for (int i = 0; i < regions.Length; i++)
        {
            MemoryMarshal.Write(t.AsSpan(8 + 32 * i), new VhostUserMemoryRegion { GuestPhysAddr = regions[i].Gpa, MemorySize = regions[i].Size, UserspaceAddr = regions[i].Uaddr });
        }
        var fds = regions.Select(_ => fe.Region.Descriptor!).ToArray();
        fe.Send(FrontendRequest.SetMemTable, t, true, fds);
        using var m = fe.ReadReply(FrontendRequest.SetMemTable);
        return m.ReadU64();
    }

    private static ulong SetConfig(TestFrontend fe, uint offset)
    {
        var c = ConfigRequest(offset, 6);
        fe.Send(FrontendRequest.SetConfig, c, true);
        using var m = fe.ReadReply(FrontendRequest.SetConfig);
        return m.ReadU64();
    }

    private static byte[] MemTable(int n)
    {
        var t = new byte[8 + 32 * Math.Max(n, 0)];
        MemoryMarshal.Write(t, (uint)n);
        return t;
    }

    private static byte[] ConfigRequest(uint offset, uint size)
    {
        var c = new byte[12 + size];
        MemoryMarshal.Write(c, new VhostUserConfigHeader { Offset = offset, ConfigSize = size });
        return c;
    }
}
