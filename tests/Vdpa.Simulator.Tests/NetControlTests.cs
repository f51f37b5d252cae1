using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>CVQ, config space, provisioning, features, reset, suspend/resume and vstats of vdpasim_net.</summary>
public sealed class NetControlTests
{
    private static SimHarness Started()
    {
        var h = SimHarness.Net(config: new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(0, h.Start(NetDriverFeatures));
        return h;
    }

    private static byte[] Mac(SimHarness h)
    {
        var b = new byte[6];
        h.Device.GetConfig(VirtioNetConfig.MacOffset, b);
        return b;
    }

    /// <summary>Sends one CVQ command (header + payload readable, 1-byte ack writable); returns the ack address.</summary>
    private static Virtio.Memory.Iova SendCtrl(SimHarness h, byte cls, byte cmd, byte[] payload, int token, bool kick = true)
    {
        var cmdAt = h.Guest.Put([cls, cmd, .. payload]);
        var ack = h.Guest.Alloc(1);
        Assert.True(h.Guest.View.TryWrite(ack, [0xEE]));
        h.Add(2, [Readable(cmdAt, 2 + payload.Length), Writable(ack, 1)], token, kick);
        return ack;
    }

    [Fact]
    public void Cvq_MacAddrSet_CopiesMacIntoConfig_AndAcksOk()
    {
        using var h = Started();
        byte[] newMac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        var ack = SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacAddrSet, newMac, 1);
        Assert.Equal((1, 1u), h.WaitUsed(2));
        Assert.Equal(NetCtrl.Ok, h.Guest.Get(ack, 1)[0]);
        Assert.Equal(newMac, Mac(h));
        h.Quiesce();
        Assert.Equal(1, h.Vqs[2].Callbacks);
        var s = h.Stats(2);
        Assert.Equal((1ul, 1ul, 0ul), (s["cvq requests"], s["cvq successes"], s["cvq errors"]));

        // The new MAC is the one the receive filter uses.
        PostRx(h, 256, 5);
        Transmit(h, Make(newMac, 64), 6);
        Assert.Equal(64u, h.WaitUsed(0).Length);
    }

    [Fact]
    public void Cvq_UnknownMacCommand_AndShortPayload_AreErrors()
    {
        using var h = Started();
        var ack1 = SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacTableSet, [0, 0, 0, 0], 1);
        Assert.Equal((1, 1u), h.WaitUsed(2));
        Assert.Equal(NetCtrl.Err, h.Guest.Get(ack1, 1)[0]);
        var ack2 = SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacAddrSet, [0x02, 0x01, 0x02], 2);
        Assert.Equal((2, 1u), h.WaitUsed(2));
        Assert.Equal(NetCtrl.Err, h.Guest.Get(ack2, 1)[0]);
        // The short read still landed in the config (the kernel pulls straight into it).
        Assert.Equal(new byte[] { 0x02, 0x01, 0x02, 0x33, 0x44, 0x55 }, Mac(h));
        h.Quiesce();
        var s = h.Stats(2);
        Assert.Equal((2ul, 0ul, 2ul), (s["cvq requests"], s["cvq successes"], s["cvq errors"]));
    }

    [Fact]
    public void Quirk_CvqStatusIsNotReset_UnknownClassAfterSuccessAcksOk()
    {
        using var h = Started();
        SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacAddrSet, [0x02, 1, 2, 3, 4, 5], 1, kick: false);
        var ack = SendCtrl(h, NetCtrl.ClassMq, NetCtrl.MqVqPairsSet, [1, 0], 2, kick: true);
        h.WaitUsed(2);
        h.WaitUsed(2);
        Assert.Equal(NetCtrl.Ok, h.Guest.Get(ack, 1)[0]);
        h.Quiesce();
        Assert.Equal(2ul, h.Stats(2)["cvq successes"]);
    }

    [Fact]
    public void Cvq_HeaderShorterThan2_CountsError_StopsAndDoesNotComplete()
    {
        using var h = Started();
        var one = h.Guest.Put([NetCtrl.ClassMac]);
        var ack = h.Guest.Alloc(1);
        h.Add(2, [Readable(one, 1), Writable(ack, 1)], 1, kick: false);
        SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacAddrSet, [0x02, 1, 2, 3, 4, 5], 2);
        SimHarness.WaitFor(() => h.Stats(2)["cvq errors"] == 1, "cvq error");
        h.Quiesce();
        Assert.False(h.Vqs[2].Queue.TryGetUsed(h.Guest.View, out _, out _));
        Assert.Equal(1ul, h.Stats(2)["cvq requests"]);
    }

    [Fact]
    public void Cvq_IgnoredWithoutCtrlVqFeature()
    {
        using var h = SimHarness.Net();
        Assert.Equal(0, h.Start(SimHarness.Bit(VirtioFeatures.Version1)));
        SendCtrl(h, NetCtrl.ClassMac, NetCtrl.MacAddrSet, [0x02, 1, 2, 3, 4, 5], 1);
        h.Quiesce();
        Assert.False(h.TryWaitUsed(2, TimeSpan.FromMilliseconds(50), out _, out _));
        Assert.Equal(0ul, h.Stats(2)["cvq requests"]);
    }

    [Fact]
    public void VendorStats_HaveTheKernelNames_AndQidx3IsEinval()
    {
        using var h = Started();
        var names = new List<VendorStat>();
        Assert.Equal(0, h.Ops.GetVendorVqStats(0, names));
        Assert.Equal(["rx packets", "rx bytes", "rx errors", "rx overruns", "rx drops"], names.Select(s => s.Name));
        names.Clear();
        Assert.Equal(0, h.Ops.GetVendorVqStats(1, names));
        Assert.Equal(["tx packets", "tx bytes", "tx errors", "tx drops"], names.Select(s => s.Name));
        names.Clear();
        Assert.Equal(0, h.Ops.GetVendorVqStats(2, names));
        Assert.Equal(["cvq requests", "cvq successes", "cvq errors"], names.Select(s => s.Name));
        Assert.Equal(-Errno.EINVAL, h.Ops.GetVendorVqStats(3, []));
        Assert.True(h.Ops.Supports(VdpaOptionalOps.VendorVqStats));
    }

    [Fact]
    public void Features_WithoutAccessPlatform_AreEinval()
    {
        using var h = SimHarness.Net();
        Assert.Equal(-Errno.EINVAL, h.Start(NetDriverFeatures, addAccessPlatform: false));
        Assert.Equal(0ul, h.Ops.GetDriverFeatures());
        Assert.Equal(0, h.Device.SetFeatures(ulong.MaxValue));
        Assert.Equal(VdpaSimNetDevice.SupportedFeatureSet, h.Ops.GetDriverFeatures());
    }

    [Fact]
    public void ManagementDevice_AdvertisesTheKernelValues()
    {
        var m = new VdpaSimNetManagementDevice();
        Assert.Equal("vdpasim_net", m.Name);
        Assert.Null(m.BusName);
        Assert.Equal(0x308830028ul, m.SupportedFeatures);
        Assert.Equal(3u, m.MaxSupportedVqs);
        Assert.Equal((1ul << 10) | (1ul << 13) | (1ul << 20), m.ConfigAttrMask);
        Assert.Equal(1ul << 1, m.SupportedClasses);
        Assert.True(m.SupportsSetAttr);
    }

    [Fact]
    public void Provisioning_DefaultsAndValues_AreInConfig()
    {
        using var plain = SimHarness.Net(name: "a");
        var cfg = new byte[VirtioNetConfig.Size];
        plain.Device.GetConfig(0, cfg);
        Assert.Equal(new byte[6], cfg[..6]);
        Assert.Equal(1500, BinaryPrimitives.ReadUInt16LittleEndian(cfg.AsSpan(VirtioNetConfig.MtuOffset)));
        Assert.Equal(VirtioNetConfig.StatusLinkUp, BinaryPrimitives.ReadUInt16LittleEndian(cfg.AsSpan(VirtioNetConfig.StatusOffset)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(cfg.AsSpan(VirtioNetConfig.MaxVirtqueuePairsOffset)));
        Assert.Equal(VdpaSimNetDevice.SupportedFeatureSet, plain.Ops.GetDeviceFeatures());
        Assert.Equal(1u, plain.Ops.GetDeviceId());
        Assert.Equal(0u, plain.Ops.GetVendorId());
        Assert.Equal(24, plain.Ops.GetConfigSize());
        Assert.Equal(256, plain.Ops.GetVqNumMax());
        Assert.Equal(4096u, plain.Ops.GetVqAlign());
        Assert.Equal(3, plain.Device.NumVqs);

        ulong narrowed = (1ul << 33) | (1ul << 32) | (1ul << 5);
        using var prov = SimHarness.Net(name: "b", config: new DeviceConfigRequest
        {
            Mac = OwnMac,
            Mtu = 9000,
            DeviceFeatures = narrowed,
            Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) | VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu) | VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures),
        });
        prov.Device.GetConfig(0, cfg);
        Assert.Equal(OwnMac, cfg[..6]);
        Assert.Equal(9000, BinaryPrimitives.ReadUInt16LittleEndian(cfg.AsSpan(VirtioNetConfig.MtuOffset)));
        Assert.Equal(narrowed, prov.Ops.GetDeviceFeatures());
    }

    [Fact]
    public void Provisioning_FeaturesOutsideTheSupportedSet_AreEinval()
    {
        var bus = new VdpaBus();
        var m = new VdpaSimNetManagementDevice();
        bus.RegisterManagementDevice(m);
        var e = Assert.Throws<VdpaException>(() => bus.AddDevice(m, "x", new DeviceConfigRequest
        {
            DeviceFeatures = VdpaSimNetDevice.SupportedFeatureSet | (1ul << NetFeatures.Mq),
            Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures),
        }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Null(e.Extack);
        Assert.Empty(bus.Devices);
        bus.AddDevice(m, "x", new DeviceConfigRequest());
        Assert.Equal(Errno.EEXIST, Assert.Throws<VdpaException>(() => bus.AddDevice(m, "x", new DeviceConfigRequest())).Errno);
    }

    [Fact]
    public void ConfigRead_OutOfRange_LeavesBufferUntouched()
    {
        using var h = Started();
        var buf = Enumerable.Repeat((byte)0xAA, 8).ToArray();
        h.Ops.GetConfig(20, buf);
        Assert.All(buf, b => Assert.Equal(0xAA, b));
        h.Ops.GetConfig(-1, buf.AsSpan(0, 1));
        Assert.Equal(0xAA, buf[0]);
        h.Ops.GetConfig(16, buf);
        Assert.Equal(0, buf[0]);
    }

    [Fact]
    public void ConfigStatus_IsRewrittenToLinkUp_OnEveryRead()
    {
        using var h = Started();
        h.Ops.SetConfig(VirtioNetConfig.StatusOffset, [0, 0]);
        var st = new byte[2];
        h.Ops.GetConfig(VirtioNetConfig.StatusOffset, st);
        Assert.Equal(VirtioNetConfig.StatusLinkUp, BinaryPrimitives.ReadUInt16LittleEndian(st));
    }

    [Fact]
    public void DevSetAttr_ChangesMac_AndNeedsAMac()
    {
        using var h = Started();
        byte[] mac = [0x02, 9, 8, 7, 6, 5];
        h.Management.SetAttributes(h.Device, new DeviceConfigRequest { Mac = mac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(mac, Mac(h));
        var e = Assert.Throws<VdpaException>(() => h.Management.SetAttributes(h.Device, new DeviceConfigRequest { Mtu = 1000, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu) }));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
    }

    [Fact]
    public void Reset_BumpsGeneration_ClearsState_KeepsCounters()
    {
        using var h = Started();
        PostRx(h, 256, 1);
        Transmit(h, Make(OwnMac, 64), 2);
        h.WaitUsed(0);
        h.Quiesce();
        uint gen = h.Ops.GetGeneration();
        Assert.Equal(0x0f, h.Ops.GetStatus());

        Assert.Equal(0, h.Device.Reset());
        Assert.Equal(gen + 1, h.Ops.GetGeneration());
        Assert.Equal(0, h.Ops.GetStatus());
        Assert.Equal(0ul, h.Ops.GetDriverFeatures());
        for (int i = 0; i < 3; i++)
        {
            Assert.False(h.Ops.GetVqReady(i));
            Assert.Equal(0, h.Ops.GetVqState(i, out var st));
            Assert.Equal(0, st.AvailIndex);
        }
        Assert.Equal(1ul, h.Stats(0)["rx packets"]);
        Assert.Equal(1ul, h.Stats(1)["tx packets"]);

        // The device works again after a fresh probe.
        Assert.Equal(0, h.Start(NetDriverFeatures));
        PostRx(h, 256, 3);
        Transmit(h, Make(OwnMac, 64), 4);
        Assert.Equal(3, h.WaitUsed(0).Token);
        h.Quiesce();
        Assert.Equal(2ul, h.Stats(0)["rx packets"]);
    }

    [Fact]
    public void SuspendResume_KicksWhileSuspendedAreReplayed()
    {
        using var h = Started();
        Assert.Equal(0, h.Ops.Suspend());
        PostRx(h, 256, 1);
        Transmit(h, Make(OwnMac, 64), 2);
        Assert.False(h.TryWaitUsed(0, TimeSpan.FromMilliseconds(100), out _, out _));
        Assert.Equal(0, h.Ops.Resume());
        Assert.Equal(1, h.WaitUsed(0).Token);
    }

    [Fact]
    public void Kick_BeforeDriverOk_DoesNothing_AndIsNotReplayed()
    {
        using var h = Started();
        h.Device.SetStatus(0x0b); // DRIVER_OK cleared: not running, no pending kick either
        PostRx(h, 256, 1);
        Transmit(h, Make(OwnMac, 64), 2);
        Assert.False(h.TryWaitUsed(0, TimeSpan.FromMilliseconds(50), out _, out _));
        // The kicks still scheduled runs (as vdpasim_kick_vq does); let them find the device stopped before DRIVER_OK
        // comes back, or a run delayed by a busy machine would see it running (the race is the kernel's too).
        h.Quiesce();
        h.Device.SetStatus(0x0f);
        Assert.False(h.TryWaitUsed(0, TimeSpan.FromMilliseconds(50), out _, out _));
        h.Kick(1);
        Assert.Equal(1, h.WaitUsed(0).Token);
    }

    [Fact]
    public void VqState_RoundTrips_AndSetVqReadyKeepsLastAvail()
    {
        using var h = Started();
        PostRx(h, 256, 1);
        Transmit(h, Make(OwnMac, 64), 2);
        h.WaitUsed(0);
        h.Quiesce();
        Assert.Equal(0, h.Ops.GetVqState(1, out var st));
        Assert.Equal(1, st.AvailIndex);
        h.Ops.SetVqReady(1, false);
        Assert.Equal(0, h.Ops.SetVqState(1, new VqState(7)));
        Assert.Equal(0, h.Ops.GetVqState(1, out st));
        Assert.Equal(7, st.AvailIndex);
    }

    [Fact]
    public void OptionalOps_AndMiscValues_MatchTheKernelTables()
    {
        using var batch = SimHarness.Net(name: "b");
        Assert.True(batch.Ops.Supports(VdpaOptionalOps.SetMap | VdpaOptionalOps.ResetMap | VdpaOptionalOps.Suspend | VdpaOptionalOps.Resume | VdpaOptionalOps.CompatReset | VdpaOptionalOps.GroupAsid));
        Assert.False(batch.Ops.Supports(VdpaOptionalOps.DmaMap));
        Assert.False(batch.Ops.Supports(VdpaOptionalOps.VqSize));
        Assert.Equal(1ul << 6, batch.Ops.GetBackendFeatures());
        Assert.Equal(new IovaRange(0, ulong.MaxValue), batch.Ops.GetIovaRange());
        Assert.Equal([0u, 0u, 1u], Enumerable.Range(0, 3).Select(batch.Ops.GetVqGroup));

        using var inc = SimHarness.Net(new SimulatorOptions { BatchMapping = false }, name: "i");
        Assert.True(inc.Ops.Supports(VdpaOptionalOps.DmaMap | VdpaOptionalOps.VqSize));
        Assert.False(inc.Ops.Supports(VdpaOptionalOps.SetMap));
        Assert.Equal(256, inc.Ops.GetVqSize(0));
        Assert.Equal(0, inc.Start(NetDriverFeatures, queueSize: 64));
        Assert.Equal(64, inc.Ops.GetVqSize(0));
    }

    [Fact]
    public void SetGroupAsid_HasTheKernelChecks_IncludingTheOffByOne()
    {
        using var h = Started();
        Assert.Equal(0, h.Ops.SetGroupAsid(1, 1));
        Assert.Equal(0, h.Ops.SetGroupAsid(2, 0)); // group == ngroups is accepted ('>' in the kernel)
        Assert.Equal(-Errno.EINVAL, h.Ops.SetGroupAsid(3, 0));
        Assert.Equal(-Errno.EINVAL, h.Ops.SetGroupAsid(0, 2));
        Assert.Equal(-Errno.EINVAL, h.Ops.SetMap(2, []));
        Assert.Equal(-Errno.EINVAL, h.Ops.ResetMap(2));
    }
}
