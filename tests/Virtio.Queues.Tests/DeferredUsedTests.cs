using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>
/// Batched used-ring publication: TryAddUsed writes elements the driver cannot see until PublishUsed moves used->idx
/// once for all of them (DPDK vhost's per-burst update); the notification rules count the whole batch.
/// </summary>
public sealed class DeferredUsedTests : IDisposable
{
    private const ulong Gpa = 0x20_0000;
    private const int Size = 8;
    private readonly TestSpace _mem = TestSpace.Single(Gpa, 1 << 20);
    private readonly SplitRingLayoutInfo _layout = SplitDriverQueue.Layout(Size, false, 0);
    private readonly DescriptorChain _chain = new(Size);
    private SplitDriverQueue _driver = null!;
    private SplitDeviceQueue _device = null!;

    public void Dispose() => _mem.Dispose();

    private DmaView V => _mem.View;
    private Iova Avail => new(Gpa + (ulong)_layout.AvailOffset);
    private Iova Used => new(Gpa + (ulong)_layout.UsedOffset);

    private void Setup(bool eventIndex)
    {
        _driver = new SplitDriverQueue(Size, new Iova(Gpa), Avail, Used, eventIndex);
        _driver.Initialize(V);
        _device = new SplitDeviceQueue(Size) { EventIndex = eventIndex };
        _device.SetAddresses(new Iova(Gpa), Avail, Used);
        _device.Ready = true;
    }

    private void AddBuffers(int n)
    {
        for (int i = 0; i < n; i++)
        {
            Span<DescriptorSegment> s = [new DescriptorSegment(new Iova(Gpa + 0x8_0000 + (ulong)i * 64), 64, true)];
            Assert.True(_driver.TryAdd(V, s, 100 + i));
        }
        _driver.KickPrepare(V); // publishes avail->idx
    }

    private ushort UsedIdxInMemory()
    {
        Assert.True(V.TryReadUInt16(new Iova(Used.Value + 2), out ushort v));
        return v;
    }

    [Fact]
    public void AddedElements_AreInvisible_UntilOnePublishExposesThemAll_InOrder()
    {
        Setup(eventIndex: false);
        AddBuffers(3);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(PopStatus.Chain, _device.TryPop(V, _chain));
            Assert.True(_device.TryAddUsed(V, _chain.Head, (uint)(10 + i)));
        }
        Assert.Equal(0, UsedIdxInMemory());
        Assert.Equal(0, _device.UsedIndex);
        Assert.False(_driver.TryGetUsed(V, out _, out _));

        Assert.True(_device.PublishUsed(V));
        Assert.Equal(3, UsedIdxInMemory());
        Assert.Equal(3, _device.UsedIndex);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(_driver.TryGetUsed(V, out int token, out uint len));
            Assert.Equal((100 + i, (uint)(10 + i)), (token, len));
        }
        // Nothing pending: publishing again writes nothing new.
        Assert.True(_device.PublishUsed(V));
        Assert.Equal(3, UsedIdxInMemory());
    }

    [Fact]
    public void APush_AfterAdds_PublishesTheAddsWithIt()
    {
        Setup(eventIndex: false);
        AddBuffers(2);
        Assert.Equal(PopStatus.Chain, _device.TryPop(V, _chain));
        Assert.True(_device.TryAddUsed(V, _chain.Head, 1));
        Assert.Equal(PopStatus.Chain, _device.TryPop(V, _chain));
        Assert.True(_device.TryPushUsed(V, _chain.Head, 2));
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
            Assert.Equal(PopStatus.Chain, _device.TryPop(V, _chain));
            Assert.True(_device.TryAddUsed(V, _chain.Head, 0));
        }
        Assert.True(_device.ShouldNotifyDriver(V));
        Assert.Equal(4, UsedIdxInMemory());
        Assert.False(_device.ShouldNotifyDriver(V)); // nothing new since
    }

    [Fact]
    public void ElementsAddedBeforeTheQueueBroke_AreStillPublished()
    {
        Setup(eventIndex: false);
        AddBuffers(1);
        Assert.Equal(PopStatus.Chain, _device.TryPop(V, _chain));
        Assert.True(_device.TryAddUsed(V, _chain.Head, 7));
        _device.MarkBroken(QueueError.IndexOutOfRange);
        Assert.False(_device.PublishUsed(V)); // the queue is broken ...
        Assert.Equal(1, UsedIdxInMemory());   // ... but the completed element is the driver's
        Assert.False(_device.TryAddUsed(V, 0, 0));
    }

    [Fact]
    public void MoreAddsThanTheRingHolds_WithoutPublishing_AreRefused()
    {
        Setup(eventIndex: false);
        for (int i = 0; i < Size; i++) Assert.True(_device.TryAddUsed(V, (ushort)i, 0));
        Assert.Throws<InvalidOperationException>(() => _device.TryAddUsed(V, 0, 0));
        Assert.True(_device.PublishUsed(V));
        Assert.Equal(Size, UsedIdxInMemory());
    }

    [Fact]
    public void ReadyAgain_ForgetsUnpublishedElements()
    {
        Setup(eventIndex: false);
        Assert.True(_device.TryAddUsed(V, 0, 0));
        _device.Ready = true;
        Assert.True(_device.PublishUsed(V));
        Assert.Equal(0, UsedIdxInMemory());
    }
}
