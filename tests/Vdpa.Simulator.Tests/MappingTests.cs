using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator.Tests.Infrastructure;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using static Uvdpa.Vdpa.Simulator.Tests.Infrastructure.Frames;

namespace Uvdpa.Vdpa.Simulator.Tests;

/// <summary>Batch (set_map) and incremental (dma_map) IOTLB flavours, address spaces, and fault isolation.</summary>
public sealed class MappingTests
{
    private const ulong MappedBytes = 8 << 20; // the low half of the 16 MiB test guest

    private static SimHarness Create(bool batch, string name = "net0")
        => SimHarness.Net(new SimulatorOptions { BatchMapping = batch }, new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) }, name: name);

    private static void MapLowHalf(SimHarness h, bool batch, uint asid = 0)
    {
        if (batch)
        {
            Assert.True(IotlbEntry.TryCreate(new Iova(Guest.Base), MappedBytes, new GuestAddress(Guest.Base), AccessPermission.ReadWrite, out var e));
            Assert.Equal(0, h.Ops.SetMap(asid, [e]));
        }
        else
        {
            // Two pieces, to exercise incremental adds.
            Assert.Equal(0, h.Ops.DmaMap(asid, new Iova(Guest.Base), MappedBytes / 2, new GuestAddress(Guest.Base), AccessPermission.ReadWrite));
            Assert.Equal(0, h.Ops.DmaMap(asid, new Iova(Guest.Base + MappedBytes / 2), MappedBytes / 2, new GuestAddress(Guest.Base + MappedBytes / 2), AccessPermission.ReadWrite));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BothFlavours_Work_AndAnUnmappedBufferBreaksOnlyThatQueue(bool batch)
    {
        using var a = Create(batch, "a");
        using var b = Create(batch, "b");
        MapLowHalf(a, batch);
        MapLowHalf(b, batch);
        Assert.Equal(0, a.Start(NetDriverFeatures));
        Assert.Equal(0, b.Start(NetDriverFeatures));

        var rx = PostRx(a, 256, 1);
        var frame = Make(OwnMac, 100);
        Transmit(a, frame, 2);
        Assert.Equal(1, a.WaitUsed(0).Token);
        Assert.Equal(frame, a.Guest.Get(rx, 100));

        // A frame in guest memory the IOTLB does not map.
        var outside = new Iova(Guest.Base + MappedBytes + 4096);
        Assert.True(a.Guest.View.TryWrite(outside, frame));
        PostRx(a, 256, 3);
        a.Add(1, [Readable(outside, frame.Length)], 4);
        SimHarness.WaitFor(() => a.Ops.BrokenQueues.Count == 1, "tx queue broken");
        a.Quiesce();
        Assert.Equal([1], a.Ops.BrokenQueues);
        Assert.NotEqual(0, a.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);
        Assert.Equal(1ul, a.Stats(1)["tx errors"]);

        // The other device is unaffected.
        PostRx(b, 256, 5);
        Transmit(b, frame, 6);
        Assert.Equal(5, b.WaitUsed(0).Token);
        Assert.Equal(0, b.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);
        Assert.Empty(b.Ops.BrokenQueues);
    }

    [Fact]
    public void Incremental_ErrorsTranslateToErrno()
    {
        using var h = SimHarness.Net(new SimulatorOptions { BatchMapping = false, MaxIotlbEntries = 2 });
        var gpa = new GuestAddress(Guest.Base);
        Assert.Equal(-Errno.EOPNOTSUPP, h.Ops.SetMap(0, []));
        Assert.Equal(-Errno.EINVAL, h.Ops.DmaMap(0, new Iova(0x1000), 0, gpa, AccessPermission.ReadWrite));
        Assert.Equal(-Errno.EINVAL, h.Ops.DmaMap(2, new Iova(0x1000), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(0, h.Ops.DmaMap(0, new Iova(0x1000), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(-Errno.EEXIST, h.Ops.DmaMap(0, new Iova(0x1800), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(0, h.Ops.DmaMap(0, new Iova(0x4000), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(-Errno.ENOSPC, h.Ops.DmaMap(0, new Iova(0x8000), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(0, h.Ops.DmaUnmap(0, new Iova(0x4000), 0x1000));
        Assert.Equal(0, h.Ops.DmaMap(0, new Iova(0x8000), 0x1000, gpa, AccessPermission.ReadWrite));
        Assert.Equal(0, h.Ops.DmaUnmap(0, new Iova(0), 0));
        Assert.Equal(0, h.Ops.ResetMap(0));
    }

    [Fact]
    public void Batch_OverLimit_IsEnospc_AndLeavesTheSpaceEmpty()
    {
        using var h = SimHarness.Net(new SimulatorOptions { MaxIotlbEntries = 1 }, new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(-Errno.EOPNOTSUPP, h.Ops.DmaMap(0, new Iova(0), 1, default, AccessPermission.Read));
        IotlbEntry.TryCreate(new Iova(0), 0x1000, new GuestAddress(Guest.Base), AccessPermission.ReadWrite, out var e1);
        IotlbEntry.TryCreate(new Iova(0x2000), 0x1000, new GuestAddress(Guest.Base), AccessPermission.ReadWrite, out var e2);
        Assert.Equal(-Errno.ENOSPC, h.Ops.SetMap(0, [e1, e2]));

        // Empty (not pass-through): the rings are unreachable, so the first kick breaks the queue.
        Assert.Equal(0, h.Start(NetDriverFeatures));
        PostRx(h, 256, 1);
        SimHarness.WaitFor(() => h.Ops.BrokenQueues.Count > 0, "broken rx ring");

        // compat_reset(CLEAN_MAP) restores pass-through; the device works again.
        Assert.Equal(0, h.Device.Reset(VdpaDevice.ResetCleanMap));
        Assert.Equal(0, h.Start(NetDriverFeatures));
        PostRx(h, 256, 2);
        Transmit(h, Make(OwnMac, 64), 3);
        Assert.Equal(2, h.WaitUsed(0).Token);
    }

    [Fact]
    public void CvqInItsOwnAddressSpace_FaultsThere_WhileDataQueuesRun()
    {
        using var h = SimHarness.Net(config: new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(0, h.Ops.SetGroupAsid(1, 1));
        Assert.Equal(0, h.Ops.SetMap(1, [])); // AS 1 maps nothing
        // virtio_vdpa's probe resets (which puts every group back on AS 0), so bind the CVQ after probing.
        Assert.Equal(0, h.Start(NetDriverFeatures));
        Assert.Equal(0, h.Ops.SetGroupAsid(1, 1));
        var cmd = h.Guest.Put([NetCtrl.ClassMac, NetCtrl.MacAddrSet, 2, 2, 2, 2, 2, 2]);
        var ack = h.Guest.Alloc(1);
        h.Add(2, [Readable(cmd, 8), Writable(ack, 1)], 1);
        SimHarness.WaitFor(() => h.Ops.BrokenQueues.Contains(2), "cvq broken");
        PostRx(h, 256, 2);
        Transmit(h, Make(OwnMac, 64), 3);
        Assert.Equal(2, h.WaitUsed(0).Token);
        Assert.Equal([2], h.Ops.BrokenQueues);
    }

    [Fact]
    public void PolledQueues_NeedNoKicks()
    {
        using var h = SimHarness.Net(config: new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.True(h.Ops.Supports(VdpaOptionalOps.Polling));
        Assert.Equal(0, h.Start(NetDriverFeatures));
        Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Poll));
        Assert.Equal(-Errno.EINVAL, h.Ops.SetVqNotificationMode(7, VqNotificationMode.Poll));
        PostRx(h, 256, 1, kick: false);
        Transmit(h, Make(OwnMac, 64), 2, kick: false);
        Assert.Equal(1, h.WaitUsed(0).Token);
        // After going idle (timer back-off) it still picks up new work.
        Thread.Sleep(50);
        PostRx(h, 256, 3, kick: false);
        Transmit(h, Make(OwnMac, 64), 4, kick: false);
        Assert.Equal(3, h.WaitUsed(0).Token);
        // Back to kicks: the poller stops once no queue is polled.
        Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Kick));
        Thread.Sleep(20);
        h.Quiesce();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PolledQueue_AsksForNoKicksWhileSpinning_AndForKicksWhenIdleOrBackInKickMode(bool leaveByIdling)
    {
        // A spin budget far longer than the test when leaving by a mode change, a short one when leaving by idling:
        // no outcome depends on how fast this machine is.
        var options = new SimulatorOptions { PollIdleBudget = leaveByIdling ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromMinutes(5) };
        using var h = SimHarness.Net(options, new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(0, h.Start(NetDriverFeatures));
        bool KickWanted() => h.Vqs[1].Queue.KickPrepare(h.Guest.View); // !(used->flags & NO_NOTIFY): no EVENT_IDX here
        Assert.True(KickWanted());
        PostRx(h, 256, 1, kick: false);
        Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Poll));
        Transmit(h, Make(OwnMac, 64), 2, kick: false);
        Assert.Equal(1, h.WaitUsed(0).Token);
        if (leaveByIdling)
        {
            // Before the 300 ms budget ran out the flag was set; after it, the device asks for kicks again and
            // still serves a frame published without a kick (the timer).
            SimHarness.WaitFor(KickWanted, "NO_NOTIFY cleared after the poll loop went idle");
            PostRx(h, 256, 3, kick: false);
            Transmit(h, Make(OwnMac, 64), 4, kick: false);
            Assert.Equal(3, h.WaitUsed(0).Token);
        }
        else
        {
            SimHarness.WaitFor(() => !KickWanted(), "NO_NOTIFY set on the TX ring while the poll loop spins");
            // Back to kick mode while spinning: the flag must not be left behind, or the driver would never kick again.
            Assert.Equal(0, h.Ops.SetVqNotificationMode(1, VqNotificationMode.Kick));
            SimHarness.WaitFor(KickWanted, "NO_NOTIFY cleared after the ring went back to kick mode");
            PostRx(h, 256, 3, kick: false);
            Transmit(h, Make(OwnMac, 64), 4, kick: true);
            Assert.Equal(3, h.WaitUsed(0).Token);
        }
        h.Quiesce();
    }

    [Fact]
    public void ThrowingDriverCallback_DoesNotStopTheDevice()
    {
        using var h = SimHarness.Net(config: new DeviceConfigRequest { Mac = OwnMac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        Assert.Equal(0, h.Start(NetDriverFeatures));
        h.Ops.SetVqCallback(0, new VdpaCallback(() => throw new InvalidOperationException("driver bug")));
        PostRx(h, 256, 1);
        Transmit(h, Make(OwnMac, 64), 2);
        Assert.Equal(1, h.WaitUsed(0).Token);
        PostRx(h, 256, 3);
        Transmit(h, Make(OwnMac, 64), 4);
        Assert.Equal(3, h.WaitUsed(0).Token);
        Assert.Equal(0, h.Ops.GetStatus() & (byte)DeviceStatus.NeedsReset);
    }
}
