using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;
using static Uvdpa.Virtio.Abi.VirtqDescFlags;
using static Uvdpa.Virtio.Queues.Tests.Infrastructure.HostileFixture;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>Queue state save/restore (get/set_vq_state), ready, reset and undo.</summary>
public sealed class QueueStateTests
{
    private static void PublishFive(HostileFixture f)
    {
        for (int i = 0; i < 5; i++) f.Desc(i, Buffers + (ulong)i * 64, (uint)(10 + i), None);
        f.Publish(0, 1, 2, 3, 4);
    }

    [Fact]
    public void LastAvailIndex_RoundTripsIntoANewQueue()
    {
        using var f = new HostileFixture();
        PublishFive(f);
        for (int i = 0; i < 3; i++) Assert.Equal(PopStatus.Chain, f.Pop());
        for (ushort i = 0; i < 3; i++) Assert.True(f.Device.TryPushUsed(f.View, i, 0));
        ushort saved = f.Device.LastAvailIndex;
        Assert.Equal(3, saved);

        // Migration: a fresh device queue restored from the saved state continues with the 4th buffer.
        var restored = new SplitDeviceQueue(8) { IndirectDescriptors = true };
        restored.SetAddresses(new Iova(DescA), new Iova(AvailA), new Iova(UsedA));
        restored.LastAvailIndex = saved;
        restored.Ready = true;
        Assert.Equal(saved, restored.LastAvailIndex);
        Assert.Equal(saved, restored.UsedIndex);
        var chain = new DescriptorChain(8);
        Assert.Equal(PopStatus.Chain, restored.TryPop(f.View, chain));
        Assert.Equal(3, chain.Head);
        Assert.Equal(13UL, chain.ReadableLength);
        Assert.True(restored.TryPushUsed(f.View, chain.Head, 0));
        Assert.True(f.View.TryReadUInt16(new Iova(UsedA + 2), out ushort usedIdx));
        Assert.Equal(4, usedIdx);
    }

    [Fact]
    public void Ready_KeepsLastAvailIndex_AndSetsUsedIndexToIt()
    {
        var q = new SplitDeviceQueue(16);
        q.LastAvailIndex = 0xfffe;
        Assert.Equal(0, q.UsedIndex);
        q.Ready = true;
        Assert.Equal(0xfffe, q.LastAvailIndex);
        Assert.Equal(0xfffe, q.UsedIndex);
        q.Ready = false;
        Assert.Equal(0xfffe, q.LastAvailIndex);
    }

    [Fact]
    public void RestoredAcrossTheIndexWrap()
    {
        using var f = new HostileFixture();
        f.Device.Ready = false;
        f.Device.LastAvailIndex = 0xffff;
        f.Device.Ready = true;
        f.Desc(0, Buffers, 8, None);
        f.Desc(1, Buffers, 8, None);
        f.SetAvailIdx(0xffff);
        f.Publish(0, 1); // entries at 0xffff and 0x0000, idx -> 1
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(PopStatus.Empty, f.Pop());
        Assert.Equal(1, f.Device.LastAvailIndex);
    }

    [Fact]
    public void Reset_ReturnsToInitialState()
    {
        using var f = new HostileFixture(eventIndex: true);
        PublishFive(f);
        Assert.Equal(PopStatus.Chain, f.Pop());
        f.Device.MarkBroken(QueueError.RingUnmapped);
        f.Device.Reset();
        Assert.False(f.Device.Ready);
        Assert.False(f.Device.IsBroken);
        Assert.Equal(0, f.Device.LastAvailIndex);
        Assert.Equal(0, f.Device.UsedIndex);
        Assert.Equal(default, f.Device.DescriptorTable);
        Assert.Equal(default, f.Device.DriverArea);
        Assert.Equal(default, f.Device.DeviceArea);
        Assert.Equal(f.Device.MaxSize, f.Device.Size);
        Assert.False(f.Device.EventIndex);
        Assert.False(f.Device.IndirectDescriptors);
        Assert.Equal(PopStatus.Empty, f.Pop()); // not ready
    }

    [Fact]
    public void NotReady_PopsNothing()
    {
        using var f = new HostileFixture();
        PublishFive(f);
        f.Device.Ready = false;
        Assert.Equal(PopStatus.Empty, f.Pop());
        Assert.False(f.Device.HasAvailable(f.View));
        f.Device.Ready = true;
        Assert.True(f.Device.HasAvailable(f.View));
        Assert.Equal(PopStatus.Chain, f.Pop());
    }

    [Fact]
    public void UndoPop_GivesTheChainBack()
    {
        using var f = new HostileFixture();
        PublishFive(f);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(1, f.Chain.Head);
        f.Device.UndoPop();
        Assert.Equal(1, f.Device.LastAvailIndex);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.Equal(1, f.Chain.Head);
        f.Device.UndoPop();
        f.Device.UndoPop();
        f.Device.UndoPop(); // nothing more to undo: no-op
        Assert.Equal(0, f.Device.LastAvailIndex);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-1)]
    [InlineData(32)]
    public void Size_MustBeAPowerOfTwoUpToMax(int size)
    {
        var q = new SplitDeviceQueue(16);
        Assert.Throws<ArgumentOutOfRangeException>(() => q.Size = size);
        Assert.Equal(16, q.Size);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(65536)]
    public void MaxSize_MustBeAPowerOfTwoUpTo32768(int max) => Assert.Throws<ArgumentOutOfRangeException>(() => new SplitDeviceQueue(max));

    [Fact]
    public void ChainHolderSmallerThanQueue_IsAProgrammingError()
    {
        using var f = new HostileFixture();
        Assert.Throws<ArgumentException>(() => f.Device.TryPop(f.View, new DescriptorChain(4)));
        Assert.False(f.Device.IsBroken);
    }

    [Fact]
    public void PushUsed_WritesElementThenIndex()
    {
        using var f = new HostileFixture();
        PublishFive(f);
        Assert.Equal(PopStatus.Chain, f.Pop());
        Assert.True(f.Device.TryPushUsed(f.View, f.Chain.Head, 1234));
        Assert.True(f.View.TryRead(new Iova(UsedA + 4), out VirtqUsedElem e));
        Assert.Equal(0u, e.Id);
        Assert.Equal(1234u, e.Len);
        Assert.True(f.View.TryReadUInt16(new Iova(UsedA + 2), out ushort idx));
        Assert.Equal(1, idx);
        Assert.Equal(1, f.Device.UsedIndex);
        Assert.Throws<ArgumentOutOfRangeException>(() => f.Device.TryPushUsed(f.View, 8, 0));
    }
}
