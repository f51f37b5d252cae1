using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>
/// Batched used-ring publication: TryAddUsed writes elements the driver cannot see until PublishUsed moves used->idx
/// once for all of them (DPDK vhost's per-burst update); the notification rules count the whole batch.
/// </summary>
public sealed class DeferredUsedTests : RingPairTest
{
    private void AddBuffers(int n)
    {
        for (int i = 0; i < n; i++)
        {
            Span<DescriptorSegment> s = [new DescriptorSegment(new Iova(Gpa + 0x8_0000 + (ulong)i * 64), 64, true)];
            Assert.True(Driver.TryAdd(V, s, 100 + i));
        }
        Driver.KickPrepare(V); // publishes avail->idx
    }

    private ushort UsedIdxInMemory() => Read16(Used, 2);

    [Fact]
    public void AddedElements_AreInvisible_UntilOnePublishExposesThemAll_InOrder()
    {
        Setup(eventIndex: false);
        AddBuffers(3);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
            Assert.True(Device.TryAddUsed(V, Chain.Head, (uint)(10 + i)));
        }
        Assert.Equal(0, UsedIdxInMemory());
        Assert.Equal(0, Device.UsedIndex);
        Assert.False(Driver.TryGetUsed(V, out _, out _));

        Assert.True(Device.PublishUsed(V));
        Assert.Equal(3, UsedIdxInMemory());
        Assert.Equal(3, Device.UsedIndex);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(Driver.TryGetUsed(V, out int token, out uint len));
            Assert.Equal((100 + i, (uint)(10 + i)), (token, len));
        }
        // Nothing pending: publishing again writes nothing new.
        Assert.True(Device.PublishUsed(V));
        Assert.Equal(3, UsedIdxInMemory());
    }

    [Fact]
    public void APush_AfterAdds_PublishesTheAddsWithIt()
    {
        Setup(eventIndex: false);
        AddBuffers(2);
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.True(Device.TryAddUsed(V, Chain.Head, 1));
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.True(Device.TryPushUsed(V, Chain.Head, 2));
        Assert.Equal(2, UsedIdxInMemory());
    }

    [Fact]
    public void TheNotificationCheck_PublishesFirst_AndTheEventWindowSpansTheBatch()
    {
        Setup(eventIndex: true);
        AddBuffers(4);
        // The driver asks to be told once used->idx passes 2 (used_event = 2).
        Assert.True(V.TryWriteUInt16(new Iova(Avail.Value + (ulong)SplitRingLayout.UsedEventOffset(Size)), 2));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
            Assert.True(Device.TryAddUsed(V, Chain.Head, 0));
        }
        Assert.True(Device.ShouldNotifyDriver(V));
        Assert.Equal(4, UsedIdxInMemory());
        Assert.False(Device.ShouldNotifyDriver(V)); // nothing new since
    }

    [Fact]
    public void ElementsAddedBeforeTheQueueBroke_AreStillPublished()
    {
        Setup(eventIndex: false);
        AddBuffers(1);
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.True(Device.TryAddUsed(V, Chain.Head, 7));
        Device.MarkBroken(QueueError.IndexOutOfRange);
        Assert.False(Device.PublishUsed(V)); // the queue is broken ...
        Assert.Equal(1, UsedIdxInMemory());   // ... but the completed element is the driver's
        Assert.False(Device.TryAddUsed(V, 0, 0));
    }

    [Fact]
    public void MoreAddsThanTheRingHolds_WithoutPublishing_AreRefused()
    {
        Setup(eventIndex: false);
        for (int i = 0; i < Size; i++) Assert.True(Device.TryAddUsed(V, (ushort)i, 0));
        Assert.Throws<InvalidOperationException>(() => Device.TryAddUsed(V, 0, 0));
        Assert.True(Device.PublishUsed(V));
        Assert.Equal(Size, UsedIdxInMemory());
    }

    [Fact]
    public void ReadyAgain_ForgetsUnpublishedElements()
    {
        Setup(eventIndex: false);
        Assert.True(Device.TryAddUsed(V, 0, 0));
        Device.Ready = true;
        Assert.True(Device.PublishUsed(V));
        Assert.Equal(0, UsedIdxInMemory());
    }
}
