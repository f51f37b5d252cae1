using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>Loopback where the driver and the device see memory differently: the same pages mapped twice, and fragmented memory.</summary>
public sealed class MemoryTopologyTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MemoryMappedTwice_DriverAndDeviceUseDifferentMappings(bool indirect, bool eventIndex)
    {
        const ulong driverGpa = 0x1000_0000, deviceGpa = 0x7000_0000;
        const long size = 2 << 20;
        // The driver's pages, and the same pages mapped a second time (another process address) for the device.
        var driverRegion = MemoryRegion.Shared(new GuestAddress(driverGpa), size, "uvdpa-queue-test");
        var deviceRegion = driverRegion.MapAgain(new GuestAddress(deviceGpa));
        using var driverSide = TestSpace.Over(GuestMemory.Create(driverRegion), null, driverRegion);
        // The device's IOTLB translates the driver's IOVAs (= driver GPAs) onto its own mapping.
        var iotlb = new Iotlb();
        Assert.True(IotlbEntry.TryCreate(new Iova(driverGpa), (ulong)size, new GuestAddress(deviceGpa), AccessPermission.ReadWrite, out var e));
        Assert.Equal(IotlbResult.Ok, iotlb.SetMap([e]));
        using var deviceSide = TestSpace.Over(GuestMemory.Create(deviceRegion), iotlb, deviceRegion);

        var h = new LoopbackHarness(driverSide.View, deviceSide.View, new Iova(driverGpa), new Iova(driverGpa + 0x2_0000), 1 << 20, 32, indirect, eventIndex, seed: 5);
        h.RunRounds(200, kickPerAdd: true, notifyPerPush: false);
        Assert.Equal(h.Added, h.Book.Verified);
        Assert.True(h.Added > 200);

        // The device cannot reach the driver's GPA range directly (it is not in its IOTLB as an identity).
        Assert.False(deviceSide.View.IsAccessible(new Iova(deviceGpa), 1, AccessPermission.Read));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void FragmentedMemory_64RegionsWithGaps_BuffersCrossBoundaries(bool indirect, bool eventIndex)
    {
        const int regions = 64;
        const long page = 4096;
        const ulong iovaBase = 0x20_0000;
        var rs = new MemoryRegion[regions];
        var entries = new IotlbEntry[regions];
        for (int i = 0; i < regions; i++)
        {
            // Guest regions 4 KiB each with 4 KiB holes between them, in reverse order so IOVA order != GPA order.
            var gpa = new GuestAddress(0x100_0000 + (ulong)(regions - 1 - i) * 2 * page);
            rs[i] = MemoryRegion.Anonymous(gpa, page);
            Assert.True(IotlbEntry.TryCreate(new Iova(iovaBase + (ulong)i * page), page, gpa, AccessPermission.ReadWrite, out entries[i]));
        }
        var iotlb = new Iotlb();
        Assert.Equal(IotlbResult.Ok, iotlb.SetMap(entries));
        using var space = TestSpace.Over(GuestMemory.Create(rs), iotlb, rs);
        Assert.Equal(regions, space.View.SegmentCount);

        // Rings start 128 bytes before a region boundary so the descriptor table straddles it; align 4 packs the used
        // ring and indirect pool right behind.
        var ring = new Iova(iovaBase + page - 128);
        var h = new LoopbackHarness(space.View, space.View, ring, new Iova(iovaBase + 3 * page + 8), 48 * page, 16, indirect, eventIndex,
            seed: 11, maxSegments: 8, align: 4);
        h.RunRounds(300, kickPerAdd: false, notifyPerPush: true);
        Assert.Equal(h.Added, h.Book.Verified);

        // The layout really crosses boundaries: the descriptor table and many buffers span two regions.
        Assert.True(h.Layout.DescriptorTableBytes > 128);
    }
}
