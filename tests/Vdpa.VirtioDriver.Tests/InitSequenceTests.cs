using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>virtio_vdpa + virtio core probe against a recording parent: exact op order, status writes, failures.</summary>
public sealed class InitSequenceTests
{
    internal static ulong Bits(params int[] bits) => bits.Aggregate(0UL, (m, b) => m | (1UL << b));

    internal static readonly ulong SimNetFeatures = Bits(NetFeatures.Mtu, NetFeatures.Mac, NetFeatures.Status, NetFeatures.CtrlVq,
        NetFeatures.CtrlMacAddr, VirtioFeatures.AnyLayout, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform);

    internal static readonly ulong SimBlkFeatures = Bits(BlkFeatures.SizeMax, BlkFeatures.SegMax, BlkFeatures.BlkSize, BlkFeatures.Flush,
        BlkFeatures.Topology, BlkFeatures.Mq, BlkFeatures.Discard, BlkFeatures.WriteZeroes,
        VirtioFeatures.AnyLayout, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform);

    private static IEnumerable<string> VqSetup(int index, int size) =>
    [
        $"get_vq_ready {index}", "get_vq_num_max", "get_vq_align", $"set_vq_cb {index}", $"set_vq_num {index} {size}",
        $"set_vq_address {index}", $"set_vq_state {index} 0", $"set_vq_ready {index} 1",
    ];

    [Fact]
    public void NetProbe_FollowsTheKernelSequenceExactly()
    {
        ulong offered = SimNetFeatures | Bits(NetFeatures.MrgRxbuf, NetFeatures.GuestCsum, VirtioFeatures.RingPacked);
        var t = new TestBus(RecordingVdpaOps.Net(offered));
        ulong expected = Bits(NetFeatures.Mtu, NetFeatures.Mac, NetFeatures.Status, NetFeatures.CtrlVq, NetFeatures.CtrlMacAddr,
            VirtioFeatures.Version1, VirtioFeatures.AccessPlatform);

        var log = t.Ops.Log;
        // The bus checks num max, the driver reads the id, sizes and binds its DMA memory, then register_virtio_device.
        Assert.Equal(["get_vq_num_max", "get_device_id", "get_vq_num_max", "bind_memory", "get_device_id", "get_vendor_id"], log[..6]);
        string[] expectedTail =
        [
            "reset",
            "get_status", "set_status 0x1",
            "get_status", "set_status 0x3",
            "get_device_features",
            $"set_driver_features 0x{expected:x}",
            "get_status", "set_status 0xb",
            "get_status",
            "get_config 0 6", "get_config 10 2",
            .. VqSetup(0, 256), .. VqSetup(1, 256), .. VqSetup(2, 256),
            "set_config_cb",
            "get_config 6 2",
            "get_status", "set_status 0xf",
        ];
        Assert.Equal(expectedTail, log[6..]);

        Assert.Equal((byte)0x0f, t.Ops.Status);
        var dev = VirtioVdpaDriver.GetVirtioDevice(t.Device)!;
        Assert.Equal(expected, dev.NegotiatedFeatures);
        Assert.Equal(offered, dev.DeviceFeatures);
        Assert.Equal(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk, dev.Status);
        Assert.Equal([256, 256, 256], dev.QueueSizes);
        var exposure = Assert.Single(t.Device.Exposures);
        Assert.Equal(("virtio", "net"), (exposure.Kind, exposure.Location));
        Assert.Same(t.Net, exposure.Handle);
        Assert.Same(t.Driver, t.Device.Driver);
        Assert.True(t.Ops.Kicks >= 1); // RX buffers posted after DRIVER_OK
    }

    [Fact]
    public void StatusWrites_Are_0_1_3_B_F()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures));
        var writes = t.Ops.Log.Where(e => e == "reset" || e.StartsWith("set_status", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["reset", "set_status 0x1", "set_status 0x3", "set_status 0xb", "set_status 0xf"], writes);
        // Features are set between DRIVER and FEATURES_OK; the vqs between FEATURES_OK and DRIVER_OK.
        var log = t.Ops.Log.ToList();
        Assert.InRange(log.FindIndex(e => e.StartsWith("set_driver_features", StringComparison.Ordinal)), log.IndexOf("set_status 0x3"), log.IndexOf("set_status 0xb"));
        Assert.InRange(log.IndexOf("set_vq_ready 2 1"), log.IndexOf("set_status 0xb"), log.IndexOf("set_status 0xf"));
    }

    [Fact]
    public void BlkProbe_SetsUpOneQueue_AndDropsUnsupportedFeatures()
    {
        var t = new TestBus(RecordingVdpaOps.Blk(SimBlkFeatures));
        var log = t.Ops.Log;
        int reset = Array.IndexOf(log, "reset");
        ulong expected = Bits(BlkFeatures.SizeMax, BlkFeatures.SegMax, BlkFeatures.BlkSize, BlkFeatures.Flush, BlkFeatures.Topology,
            BlkFeatures.Discard, BlkFeatures.WriteZeroes, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform);
        Assert.Contains($"set_driver_features 0x{expected:x}", log);
        var mutating = log[reset..].Where(e => !e.StartsWith("get_", StringComparison.Ordinal)).ToArray();
        Assert.Equal(
        [
            "reset", "set_status 0x1", "set_status 0x3", $"set_driver_features 0x{expected:x}", "set_status 0xb",
            "set_vq_cb 0", "set_vq_num 0 256", "set_vq_address 0", "set_vq_state 0 0", "set_vq_ready 0 1", "set_config_cb",
            "set_status 0xf",
        ], mutating);
        var exposure = Assert.Single(t.Device.Exposures);
        Assert.Equal(("virtio", "blk"), (exposure.Kind, exposure.Location));
        Assert.Equal(0x40000UL, t.Blk.Capacity);
        Assert.Equal(4096u, t.Blk.SizeMax);
        Assert.Equal(32u, t.Blk.SegMax);
        Assert.Equal(128 * 1024, t.Blk.MaxRequestBytes);
        Assert.True(t.Blk.SupportsFlush && t.Blk.SupportsDiscard && t.Blk.SupportsWriteZeroes);
    }

    [Fact]
    public void FeaturesOkRefused_ProbeFailsWithEnodev_AndStatusFailed()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.RefuseFeaturesOk = true;
        var e = TestBus.ProbeError(ops);
        Assert.Equal(Errno.ENODEV, e.Errno);
        Assert.Equal("virtio: device refuses features: 3", e.Message);
        Assert.Equal((byte)0x83, ops.Status); // ACK | DRIVER | FAILED
        Assert.DoesNotContain(ops.Log, l => l.StartsWith("set_vq", StringComparison.Ordinal));
        Assert.Equal("set_status 0x83", ops.Log.Last(l => l.StartsWith("set_status", StringComparison.Ordinal)));
    }

    [Fact]
    public void FeaturesOkRefused_OnTheBus_LeavesTheDeviceUnbound()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.RefuseFeaturesOk = true;
        var t = new TestBus(ops);
        Assert.Null(t.Device.Driver);
        Assert.Empty(t.Device.Exposures);
        Assert.Null(VirtioVdpaDriver.GetNetDevice(t.Device));
        Assert.Equal("bind_memory empty", ops.Log.Last(l => l.StartsWith("bind_memory", StringComparison.Ordinal)));
    }

    [Fact]
    public void SetFeaturesError_FailsProbe_WithFailedStatus()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.SetFeaturesResult = -Errno.EINVAL;
        var e = TestBus.ProbeError(ops);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal((byte)0x83, ops.Status);
        Assert.DoesNotContain("set_status 0xb", ops.Log);
    }

    [Fact]
    public void SimulatorWithoutAccessPlatform_IsRefusedBySetFeatures()
    {
        // vdpasim_set_driver_features returns EINVAL unless ACCESS_PLATFORM is negotiated: if the device does not offer
        // it, the intersection lacks it and the probe fails like the kernel's.
        var ops = RecordingVdpaOps.Net(SimNetFeatures & ~Bits(VirtioFeatures.AccessPlatform));
        ops.SetFeaturesResult = -Errno.EINVAL;
        Assert.Equal(Errno.EINVAL, TestBus.ProbeError(ops).Errno);
    }

    [Fact]
    public void VqSizeZero_FailsWithEnoent_AndTearsDownEarlierQueues()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.VqSize = i => i == 1 ? (ushort)0 : (ushort)256;
        var e = TestBus.ProbeError(ops);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal((byte)0x8b, ops.Status); // ACK | DRIVER | FEATURES_OK | FAILED
        Assert.False(ops.IsReady(0));
        var log = ops.Log.ToList();
        Assert.True(log.IndexOf("set_vq_ready 0 0") > log.IndexOf("set_vq_ready 0 1"));
        Assert.Contains("set_vq_ready 1 0", log);
    }

    [Fact]
    public void VqNumMaxZero_FailsWithEnoent()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.NumMax = 0;
        Assert.Equal(Errno.ENOENT, TestBus.ProbeError(ops).Errno);
        Assert.Equal(0x80, ops.Status & 0x80);
    }

    [Fact]
    public void VqNumMaxZero_OnTheBus_IsRefusedBeforeTheDriver()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.NumMax = 0;
        var t = new TestBus(ops);
        Assert.Null(t.Device.Driver);
        Assert.DoesNotContain("reset", ops.Log); // vdpa_dev_probe: max < min → EINVAL, the driver never runs
    }

    [Fact]
    public void QueueAlreadyReady_FailsWithEnoent()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.ReadyAlready = true;
        Assert.Equal(Errno.ENOENT, TestBus.ProbeError(ops).Errno);
    }

    [Fact]
    public void SetVqStateError_FailsProbe()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.SetVqStateResult = -Errno.EOPNOTSUPP;
        Assert.Equal(Errno.EOPNOTSUPP, TestBus.ProbeError(ops).Errno);
        Assert.Equal(0x80, ops.Status & 0x80);
    }

    [Fact]
    public void DeviceIdZero_IsEinval_AndTouchesNothing()
    {
        var ops = RecordingVdpaOps.Net(SimNetFeatures);
        ops.DeviceId = 0;
        var e = TestBus.ProbeError(ops);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal(["get_device_id"], ops.Log);
    }

    [Fact]
    public void UnknownDeviceClass_StaysAcknowledged_WithoutClassDriver()
    {
        var ops = new RecordingVdpaOps((uint)VirtioDeviceId.Rng, Bits(VirtioFeatures.Version1, VirtioFeatures.AccessPlatform), 1, 0);
        var t = new TestBus(ops);
        var exposure = Assert.Single(t.Device.Exposures);
        Assert.Equal("virtio-id-4", exposure.Location);
        Assert.IsType<VirtioDevice>(exposure.Handle);
        Assert.Equal((byte)0x01, ops.Status);
    }

    [Fact]
    public void Remove_ResetsTheDevice_AndDeactivatesEveryQueue()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures));
        var net = t.Net;
        t.Ops.ClearLog();
        Assert.True(t.Bus.Unbind("vdpa0"));
        Assert.Equal(["reset", "set_vq_ready 0 0", "set_vq_ready 1 0", "set_vq_ready 2 0", "bind_memory empty"], t.Ops.Log);
        Assert.Equal((byte)0, t.Ops.Status);
        Assert.False(t.Ops.IsReady(0) || t.Ops.IsReady(1) || t.Ops.IsReady(2));
        Assert.Empty(t.Device.Exposures);
        Assert.True(net.Device.IsRemoved);
        Assert.Throws<VirtioDeviceRemovedException>(() => net.TrySend(new byte[64]));
        Assert.Throws<VirtioDeviceRemovedException>(() => net.TryReceive(new byte[2048], out _));
        Assert.ThrowsAny<ObjectDisposedException>(() => net.Device.ReadConfig(0, new byte[6]));
    }

    [Fact]
    public void Rebind_AfterRemove_ProbesAgain()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures));
        var first = t.Net;
        t.Bus.Unbind("vdpa0");
        Assert.True(t.Bus.Probe("vdpa0"));
        Assert.NotSame(first, t.Net);
        Assert.Equal((byte)0x0f, t.Ops.Status);
    }

    [Fact]
    public void QueueSizeOption_ShrinksTheRings()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures), new BindOptions([new("queue-size", "64")]));
        Assert.Contains("set_vq_num 0 64", t.Ops.Log);
        Assert.Equal(64, t.Net.RxBufferCount);
        Assert.Equal(64, t.Net.TxSlotCount);
    }

    [Theory]
    [InlineData("queue-size", "48")]
    [InlineData("queue-size", "x")]
    [InlineData("queue-depth", "0")]
    [InlineData("max-request-bytes", "1000")]
    public void BadBindOption_IsEinval(string key, string value)
    {
        var ops = RecordingVdpaOps.Blk(SimBlkFeatures);
        var e = TestBus.ProbeError(ops, new BindOptions([new(key, value)]));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.DoesNotContain("reset", ops.Log);
    }

    [Fact]
    public void ConfigRead_RetriesWhileTheGenerationChanges()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures));
        var dev = t.Net.Device;
        t.Ops.ClearLog();
        t.Ops.GenerationBumps = 4; // every generation read bumps it: attempts 1 and 2 see before != after, attempt 3 is stable
        Span<byte> mac = stackalloc byte[6];
        dev.ReadConfig(0, mac);
        Assert.Equal(3, t.Ops.Log.Count(l => l == "get_config 0 6"));
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, mac.ToArray());
    }

    [Fact]
    public void NetConfig_MacMtuAndLink()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures, [2, 0, 0, 0, 0, 9], mtu: 9000, status: 0));
        var net = t.Net;
        Assert.Equal("020000000009", net.MacAddress.ToString());
        Assert.Equal(9000, net.Mtu);
        Assert.True(net.MaxFrameLength >= 9000 + 14);
        Assert.False(net.IsLinkUp);
        Assert.True(net.CanSetMac);
    }

    [Fact]
    public void NoMacFeature_GivesARandomLocalUnicastMac_AndNoStatusMeansLinkUp()
    {
        var t = new TestBus(RecordingVdpaOps.Net(Bits(VirtioFeatures.Version1, VirtioFeatures.AccessPlatform), status: 0));
        byte[] mac = t.Net.MacAddress.GetAddressBytes();
        Assert.Equal(2, mac[0] & 3);
        Assert.True(t.Net.IsLinkUp);
        Assert.False(t.Net.CanSetMac);
        Assert.Equal(2, t.Net.Device.QueueSizes.Count); // no CTRL_VQ: rx + tx only
    }

    [Fact]
    public void CtrlMacAddrWithoutCtrlVq_IsNotNegotiated()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures & ~Bits(NetFeatures.CtrlVq)));
        Assert.False(t.Net.Device.HasFeature(NetFeatures.CtrlMacAddr));
        Assert.False(t.Net.CanSetMac);
    }

    [Fact]
    public async Task ConfigChange_UpdatesLinkState()
    {
        var t = new TestBus(RecordingVdpaOps.Net(SimNetFeatures));
        var net = t.Net;
        Assert.True(net.IsLinkUp);
        var changed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        net.LinkStateChanged += (_, up) => changed.TrySetResult(up);
        t.Ops.Config[VirtioNetConfig.StatusOffset] = 0;
        t.Ops.RaiseConfigChange();
        Assert.False(await changed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(net.IsLinkUp);
    }

    [Fact]
    public void EventIdxAndIndirect_AreNegotiatedWhenOffered()
    {
        var t = new TestBus(RecordingVdpaOps.Blk(SimBlkFeatures | Bits(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc)));
        Assert.True(t.Blk.Device.HasFeature(VirtioFeatures.RingEventIdx));
        Assert.True(t.Blk.Device.HasFeature(VirtioFeatures.RingIndirectDesc));
        Assert.Equal(32u, t.Blk.SegMax);
    }
}
