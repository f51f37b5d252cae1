using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;
using static Uvdpa.Virtio.Abi.VirtqDescFlags;
using static Uvdpa.Virtio.Queues.Tests.Infrastructure.HostileFixture;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>
/// One test per hostile driver input: each must end the walk, break only the affected queue (sticky, with the right
/// <see cref="QueueError"/>), throw nothing, and leave another queue over the same memory working.
/// </summary>
public sealed class MaliciousDriverTests
{
    [Fact]
    public void Sanity_WellFormedChainPops()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 100, Next, 1);
        f.Desc(1, Buffers + 100, 50, Write);
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(2, f.Chain.Count);
        Assert.Equal(1, f.Chain.ReadableCount);
        Assert.Equal(100UL, f.Chain.ReadableLength);
        Assert.Equal(50UL, f.Chain.WritableLength);
        Assert.Equal(PopStatus.Empty, f.Pop());
        Assert.False(f.Device.IsBroken);
    }

    [Fact]
    public void Regression_DescriptorLoop()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 10, Next, 1);
        f.Desc(1, Buffers, 10, Next, 2);
        f.Desc(2, Buffers, 10, Next, 0);
        f.Publish(0);
        f.AssertBroken(QueueError.ChainTooLong);
    }

    [Fact]
    public void Regression_DescriptorSelfLoop()
    {
        using var f = new HostileFixture();
        f.Desc(3, Buffers, 10, Next | Write, 3);
        f.Publish(3);
        f.AssertBroken(QueueError.ChainTooLong);
    }

    [Fact]
    public void IndirectTableLoop()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables, 0, Buffers, 10, Next, 1);
        f.WriteDesc(Tables, 1, Buffers, 10, Next, 0);
        f.Desc(0, Tables, 2 * 16, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.ChainTooLong);
    }

    [Fact]
    public void ChainLongerThanQueue()
    {
        // Two direct descriptors then an indirect table with Size entries: no loop, but Size + 2 segments.
        using var f = new HostileFixture();
        for (int i = 0; i < f.Size; i++) f.WriteDesc(Tables, i, Buffers, 4, i + 1 < f.Size ? Next : None, (ushort)(i + 1));
        f.Desc(0, Buffers, 4, Next, 1);
        f.Desc(1, Buffers, 4, Next, 2);
        f.Desc(2, Tables, (uint)(16 * f.Size), Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.ChainTooLong);
    }

    [Fact]
    public void ChainOfExactlyQueueSizeIsAccepted()
    {
        using var f = new HostileFixture();
        for (int i = 0; i < f.Size; i++) f.Desc(i, Buffers + (ulong)i * 8, 8, i + 1 < f.Size ? Next : None, (ushort)(i + 1));
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(f.Size, f.Chain.Count);
    }

    [Fact]
    public void AvailIndexJumpBeyondQueueSize()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 10, None);
        f.SetAvailIdx((ushort)(f.Size + 1));
        f.AssertBroken(QueueError.AvailIndexJump);
    }

    [Fact]
    public void AvailIndexJumpBeyondQueueSize_SeenByHasAvailable()
    {
        using var f = new HostileFixture();
        f.SetAvailIdx(0x8000);
        Assert.False(f.Device.HasAvailable(f.View));
        Assert.Equal(QueueError.AvailIndexJump, f.Device.Error);
        f.AssertBroken(QueueError.AvailIndexJump);
    }

    [Fact]
    public void AvailIndexGoingBackwards()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 10, None);
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        f.SetAvailIdx(0); // 1 -> 0 reads as a jump of 65535
        f.AssertBroken(QueueError.AvailIndexJump);
    }

    [Fact]
    public void HeadIndexOutOfRange()
    {
        using var f = new HostileFixture();
        f.Publish((ushort)f.Size);
        f.AssertBroken(QueueError.IndexOutOfRange);
    }

    [Fact]
    public void NextIndexOutOfRange()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 10, Next, 0xffff);
        f.Publish(0);
        f.AssertBroken(QueueError.IndexOutOfRange);
    }

    [Fact]
    public void IndirectNextIndexOutOfRange()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables, 0, Buffers, 10, Next, 2); // table has 2 entries: index 2 is out
        f.WriteDesc(Tables, 1, Buffers, 10, None);
        f.Desc(0, Tables, 32, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.IndexOutOfRange);
    }

    [Fact]
    public void NestedIndirectTable()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables + 0x100, 0, Buffers, 10, None);
        f.WriteDesc(Tables, 0, Tables + 0x100, 16, Indirect);
        f.Desc(0, Tables, 16, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.NestedIndirect);
    }

    [Fact]
    public void IndirectWithNext()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables, 0, Buffers, 10, None);
        f.Desc(0, Tables, 16, Indirect | Next, 1);
        f.Desc(1, Buffers, 10, Write);
        f.Publish(0);
        f.AssertBroken(QueueError.IndirectWithNext);
    }

    [Fact]
    public void IndirectNotNegotiated()
    {
        using var f = new HostileFixture(indirect: false);
        f.WriteDesc(Tables, 0, Buffers, 10, None);
        f.Desc(0, Tables, 16, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.IndirectNotNegotiated);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)]
    [InlineData(17u)]
    [InlineData(16u * 9)] // more entries than the queue size (8)
    [InlineData(0xffff_fff0u)]
    public void IndirectTableWithBadLength(uint length)
    {
        using var f = new HostileFixture();
        f.Desc(0, Tables, length, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.BadIndirectTable);
    }

    [Fact]
    public void UnmappedIndirectTable()
    {
        using var f = new HostileFixture();
        f.Desc(0, Unmapped, 32, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.BufferUnmapped);
    }

    [Fact]
    public void DirectDescriptorsThenIndirectIsAccepted()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables, 0, Buffers + 100, 20, Write | Next, 1);
        f.WriteDesc(Tables, 1, Buffers + 200, 30, Write);
        f.Desc(0, Buffers, 10, Next, 1);
        f.Desc(1, Tables, 32, Indirect | Write); // WRITE on the table descriptor is ignored (§2.7.5.3.2)
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(3, f.Chain.Count);
        Assert.Equal(10UL, f.Chain.ReadableLength);
        Assert.Equal(50UL, f.Chain.WritableLength);
    }

    [Fact]
    public void LengthSumOver4GiB()
    {
        using var f = new HostileFixture();
        // The sum is checked before each buffer's mapping, so the overflowing descriptor need not be mappable.
        f.Desc(0, Buffers, 0x100, Next, 1);
        f.Desc(1, Buffers, 0x1000, Next | Write, 2);
        f.Desc(2, Buffers, 0xffff_f000, Write);
        f.Publish(0);
        f.AssertBroken(QueueError.LengthOverflow);
    }

    [Fact]
    public void LengthSumOver4GiB_ThroughIndirectTable()
    {
        using var f = new HostileFixture();
        f.WriteDesc(Tables, 0, Buffers, uint.MaxValue, None);
        f.Desc(0, Buffers, 1, Next, 1);
        f.Desc(1, Tables, 16, Indirect);
        f.Publish(0);
        f.AssertBroken(QueueError.LengthOverflow);
    }

    [Fact]
    public void ReadableAfterWritable()
    {
        using var f = new HostileFixture();
        f.Desc(0, Buffers, 10, Write | Next, 1);
        f.Desc(1, Buffers + 10, 10, None);
        f.Publish(0);
        f.AssertBroken(QueueError.ReadableAfterWritable);
    }

    [Fact]
    public void WritableBufferInReadOnlyMemory()
    {
        using var f = new HostileFixture();
        f.Desc(0, ReadOnlyBase + 0x100, 64, Write);
        f.Publish(0);
        f.AssertBroken(QueueError.BufferUnmapped);
    }

    [Fact]
    public void ReadableBufferInReadOnlyMemoryIsAccepted()
    {
        using var f = new HostileFixture();
        f.Desc(0, ReadOnlyBase + 0x100, 64, None);
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.False(f.Chain[0].DeviceWritable);
    }

    [Fact]
    public void UnmappedBuffer()
    {
        using var f = new HostileFixture();
        f.Desc(0, Unmapped, 64, None);
        f.Publish(0);
        f.AssertBroken(QueueError.BufferUnmapped);
    }

    [Fact]
    public void BufferRunsOffTheEndOfMemory()
    {
        using var f = new HostileFixture();
        f.Desc(0, RamBase + RamSize - 8, 16, Write);
        f.Publish(0);
        f.AssertBroken(QueueError.BufferUnmapped);
    }

    [Fact]
    public void BufferWrapsTheAddressSpace()
    {
        using var f = new HostileFixture();
        f.Desc(0, ulong.MaxValue - 3, 64, None);
        f.Publish(0);
        f.AssertBroken(QueueError.BufferUnmapped);
    }

    [Theory]
    [InlineData(DescA + 8, AvailA, UsedA)]
    [InlineData(DescA, AvailA + 1, UsedA)]
    [InlineData(DescA, AvailA, UsedA + 2)]
    public void MisalignedRing(ulong desc, ulong avail, ulong used)
    {
        using var f = new HostileFixture();
        f.Device.Ready = false;
        f.Device.SetAddresses(new Iova(desc), new Iova(avail), new Iova(used));
        f.Device.Ready = true;
        f.AssertBroken(QueueError.RingUnmapped);
    }

    [Theory]
    [InlineData(Unmapped, AvailA, UsedA)]
    [InlineData(DescA, Unmapped, UsedA)]
    [InlineData(DescA, AvailA, Unmapped)]
    [InlineData(RamBase + RamSize - 64, AvailA, UsedA)] // table runs off the end of memory
    public void UnmappedRing(ulong desc, ulong avail, ulong used)
    {
        using var f = new HostileFixture();
        f.Device.Ready = false;
        f.Device.SetAddresses(new Iova(desc), new Iova(avail), new Iova(used));
        f.Device.Ready = true;
        f.AssertBroken(QueueError.RingUnmapped);
    }

    [Fact]
    public void UsedRingInReadOnlyMemory()
    {
        using var f = new HostileFixture();
        f.Device.Ready = false;
        f.Device.SetAddresses(new Iova(DescA), new Iova(AvailA), new Iova(ReadOnlyBase));
        f.Device.Ready = true;
        f.AssertBroken(QueueError.RingUnmapped);
    }

    [Fact]
    public void BrokenIsStickyUntilReset()
    {
        using var f = new HostileFixture();
        f.Publish(0xffff);
        f.AssertBroken(QueueError.IndexOutOfRange);
        // Fixing the ring does not help: broken is sticky.
        f.SetAvailIdx(0);
        Assert.Equal(PopStatus.Broken, f.Pop());
        Assert.False(f.Device.EnableNotifications(f.View));
        Assert.False(f.Device.ShouldNotifyDriver(f.View));

        f.Device.Reset();
        Assert.False(f.Device.IsBroken);
        Assert.Equal(QueueError.None, f.Device.Error);
        f.Device.Size = f.Size;
        f.Device.IndirectDescriptors = true;
        f.Device.SetAddresses(new Iova(DescA), new Iova(AvailA), new Iova(UsedA));
        f.Device.Ready = true;
        f.Desc(0, Buffers, 10, None);
        f.Publish(0);
        Assert.Equal(PopStatus.Chain, f.Pop());
    }

    [Fact]
    public void MarkBroken_FirstErrorSticks()
    {
        using var f = new HostileFixture();
        f.Device.MarkBroken(QueueError.UsedRingFault);
        f.Device.MarkBroken(QueueError.ChainTooLong);
        Assert.Equal(QueueError.UsedRingFault, f.Device.Error);
        Assert.Equal(PopStatus.Broken, f.Pop());
        Assert.Throws<ArgumentOutOfRangeException>(() => f.Device.MarkBroken(QueueError.None));
    }

    [Fact]
    public void RingUnmappedAfterIotlbChange_BreaksWithoutThrowing()
    {
        // The ring was valid when first used; a later view without it must break the queue, not fault.
        const ulong gpa = 0x100_0000;
        var region = MemoryRegion.Anonymous(new GuestAddress(gpa), 1 << 20);
        var iotlb = new Iotlb();
        Assert.True(IotlbEntry.TryCreate(new Iova(gpa), 1 << 20, new GuestAddress(gpa), AccessPermission.ReadWrite, out var all));
        iotlb.SetMap([all]);
        using var space = TestSpace.Over(GuestMemory.Create(region), iotlb, region);
        var h = new LoopbackHarness(space.View, space.View, new Iova(gpa), new Iova(gpa + 0x1_0000), 0x4_0000, 8, true, false, seed: 1);
        h.RunRounds(5, false, false);
        Assert.Equal(IotlbResult.Ok, iotlb.Unmap(new Iova(gpa), 0x1_0000));
        space.Refresh();
        var chain = new DescriptorChain(8);
        Assert.Equal(PopStatus.Broken, h.Device.TryPop(space.View, chain));
        Assert.Equal(QueueError.RingUnmapped, h.Device.Error);
    }
}
