using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues.Tests.Infrastructure;

namespace Uvdpa.Virtio.Queues.Tests;

/// <summary>Flag-based and event-index notification suppression in both directions. Spec: VIRTIO 1.3 §2.7.7, §2.7.10.</summary>
public sealed class NotificationSuppressionTests : RingPairTest
{
    private void Add(int token)
    {
        Span<DescriptorSegment> s = [new DescriptorSegment(new Iova(Gpa + 0x8_0000), 64, true)];
        Assert.True(Driver.TryAdd(V, s, token));
    }

    private void PopAndPush()
    {
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.True(Device.TryPushUsed(V, Chain.Head, 1));
    }

    [Fact]
    public void Flags_DeviceDisable_SetsNoNotify_AndSuppressesKicks()
    {
        Setup(eventIndex: false);
        Device.DisableNotifications(V);
        Assert.Equal(SplitRingLayout.UsedFlagNoNotify, Read16(Used, 0));
        Add(1);
        Assert.False(Driver.KickPrepare(V));
        // Enabling re-reads avail->idx: the buffer slipped in while disabled, so the device must keep polling.
        Assert.True(Device.EnableNotifications(V));
        Assert.Equal(0, Read16(Used, 0));
        Add(2);
        Assert.True(Driver.KickPrepare(V));
    }

    [Fact]
    public void Flags_DriverDisable_SetsNoInterrupt_AndSuppressesInterrupts()
    {
        Setup(eventIndex: false);
        Add(1); Add(2);
        Driver.KickPrepare(V);
        Driver.DisableCallbacks(V);
        Assert.Equal(SplitRingLayout.AvailFlagNoInterrupt, Read16(Avail, 0));
        PopAndPush();
        Assert.False(Device.ShouldNotifyDriver(V));
        // Re-enabling sees the used buffer already pending: false means "poll again".
        Assert.False(Driver.EnableCallbacks(V));
        Assert.Equal(0, Read16(Avail, 0));
        PopAndPush();
        Assert.True(Device.ShouldNotifyDriver(V));
    }

    [Fact]
    public void EventIndex_DevicePublishesAvailEvent_KickOnlyWhenCrossed()
    {
        Setup(eventIndex: true);
        Add(1);
        Assert.True(Driver.KickPrepare(V)); // avail_event 0 is crossed by 0 -> 1
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.False(Device.EnableNotifications(V));
        Assert.Equal(1, Read16(Used, (ulong)SplitRingLayout.AvailEventOffset(Size)));
        Add(2);
        Assert.True(Driver.KickPrepare(V)); // 1 -> 2 crosses avail_event 1
        Add(3);
        Assert.False(Driver.KickPrepare(V)); // 2 -> 3 does not: the device has not re-armed
        Add(4); Add(5);
        Assert.False(Driver.KickPrepare(V));
        // With event index the device never touches used->flags (spec: it MUST be 0 ... driver ignores it).
        Device.DisableNotifications(V);
        Assert.Equal(0, Read16(Used, 0));
        // Re-arming with buffers pending reports them.
        Assert.True(Device.EnableNotifications(V));
    }

    [Fact]
    public void EventIndex_DriverPublishesUsedEvent_InterruptOnlyWhenCrossed()
    {
        Setup(eventIndex: true);
        for (int i = 0; i < 6; i++) Add(i);
        Driver.KickPrepare(V);
        Assert.True(Driver.EnableCallbacks(V));
        Assert.Equal(0, Read16(Avail, (ulong)SplitRingLayout.UsedEventOffset(Size)));
        PopAndPush();
        Assert.True(Device.ShouldNotifyDriver(V));  // 0 -> 1 crosses used_event 0
        PopAndPush();
        Assert.False(Device.ShouldNotifyDriver(V)); // 1 -> 2 does not
        // Driver consumes one: used_event moves to the next entry (virtqueue_get_buf_ctx_split).
        Assert.True(Driver.TryGetUsed(V, out _, out _));
        Assert.Equal(1, Read16(Avail, (ulong)SplitRingLayout.UsedEventOffset(Size)));
        PopAndPush();
        Assert.False(Device.ShouldNotifyDriver(V)); // 2 -> 3 does not cross 1 (it was crossed before the driver moved it)
        // Disabled callbacks: used_event is parked just behind the last seen entry.
        Driver.DisableCallbacks(V);
        Assert.Equal(0, Read16(Avail, 0));  // flags untouched with event index
        PopAndPush();
        Assert.False(Device.ShouldNotifyDriver(V));
    }

    [Fact]
    public void EventIndex_EnableCallbacksDelayed_WaitsForThreeQuarters()
    {
        Setup(eventIndex: true);
        for (int i = 0; i < 8; i++) Add(i);
        Driver.KickPrepare(V);
        Assert.True(Driver.EnableCallbacksDelayed(V)); // 8 outstanding -> used_event = 0 + 6
        Assert.Equal(6, Read16(Avail, (ulong)SplitRingLayout.UsedEventOffset(Size)));
        for (int i = 0; i < 6; i++)
        {
            PopAndPush();
            Assert.False(Device.ShouldNotifyDriver(V));
        }
        PopAndPush(); // used idx 6 -> 7 crosses 6
        Assert.True(Device.ShouldNotifyDriver(V));
        Assert.False(Driver.EnableCallbacksDelayed(V)); // 7 used > 6: already there
    }

    [Fact]
    public void EventIndex_MoreThan65535CompletionsSinceLastCheck_Notifies()
    {
        Setup(eventIndex: true);
        // used_event far away; push 65536 completions by popping/pushing the same slot repeatedly.
        for (int i = 0; i < 65536; i++)
        {
            Add(i);
            Driver.KickPrepare(V);
            PopAndPush();
            Assert.True(Driver.TryGetUsed(V, out _, out _));
        }
        Assert.True(V.TryWriteUInt16(new Iova(Avail.Value + (ulong)SplitRingLayout.UsedEventOffset(Size)), 0x1234));
        // Window old..new covers the full 16-bit space: NeedEvent alone would say "no"; the completion count says "yes".
        Assert.True(Device.ShouldNotifyDriver(V));
        Assert.False(Device.ShouldNotifyDriver(V)); // nothing new
    }

    [Fact]
    public void Flags_EnableNotifications_ReportsPendingBuffers_ClosingTheRace()
    {
        Setup(eventIndex: false);
        Assert.False(Device.EnableNotifications(V));
        Add(1);
        Driver.KickPrepare(V);
        Assert.True(Device.HasAvailable(V));
        Assert.True(Device.EnableNotifications(V));
        Assert.Equal(PopStatus.Chain, Device.TryPop(V, Chain));
        Assert.False(Device.EnableNotifications(V));
    }
}
