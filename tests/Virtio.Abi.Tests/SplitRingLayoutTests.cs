using CsCheck;

namespace Uvdpa.Virtio.Abi.Tests;

/// <summary>Split-ring area sizes and offsets (Spec: VIRTIO 1.3 §2.7), and vring_need_event (§2.7.7.2, §2.7.10).</summary>
public class SplitRingLayoutTests
{
    [Fact]
    public void FixedOffsets()
    {
        Assert.Equal(0, SplitRingLayout.AvailFlagsOffset);
        Assert.Equal(2, SplitRingLayout.AvailIdxOffset);
        Assert.Equal(4, SplitRingLayout.AvailRingOffset);
        Assert.Equal(0, SplitRingLayout.UsedFlagsOffset);
        Assert.Equal(2, SplitRingLayout.UsedIdxOffset);
        Assert.Equal(4, SplitRingLayout.UsedRingOffset);
        Assert.Equal(16, SplitRingLayout.DescAlign);
        Assert.Equal(2, SplitRingLayout.AvailAlign);
        Assert.Equal(4, SplitRingLayout.UsedAlign);
        Assert.Equal(1, SplitRingLayout.AvailFlagNoInterrupt);
        Assert.Equal(1, SplitRingLayout.UsedFlagNoNotify);
        Assert.Equal(32768, SplitRingLayout.MaxQueueSize);
    }

    [Theory]
    // queue size, desc table, avail (with used_event), used (with avail_event), used_event offset, avail_event offset
    [InlineData(1, 16, 8, 14, 6, 12)]
    [InlineData(2, 32, 10, 22, 8, 20)]
    [InlineData(256, 4096, 518, 2054, 516, 2052)]
    [InlineData(1024, 16384, 2054, 8198, 2052, 8196)]
    [InlineData(32768, 524288, 65542, 262150, 65540, 262148)]
    public void AreaSizes(int n, long desc, long avail, long used, int usedEvent, int availEvent)
    {
        Assert.Equal(desc, SplitRingLayout.DescTableSize(n));
        Assert.Equal(avail, SplitRingLayout.AvailSize(n));
        Assert.Equal(used, SplitRingLayout.UsedSize(n));
        Assert.Equal(usedEvent, SplitRingLayout.UsedEventOffset(n));
        Assert.Equal(availEvent, SplitRingLayout.AvailEventOffset(n));
    }

    [Fact]
    public void EventFieldsAreTheLastTwoBytesOfTheirArea()
    {
        for (int n = 1; n <= SplitRingLayout.MaxQueueSize; n <<= 1)
        {
            Assert.Equal(SplitRingLayout.AvailSize(n), SplitRingLayout.UsedEventOffset(n) + 2);
            Assert.Equal(SplitRingLayout.UsedSize(n), SplitRingLayout.AvailEventOffset(n) + 2);
            Assert.Equal(SplitRingLayout.AvailRingOffset + 2L * n, SplitRingLayout.UsedEventOffset(n));
            Assert.Equal(SplitRingLayout.UsedRingOffset + 8L * n, SplitRingLayout.AvailEventOffset(n));
            Assert.Equal(VirtqDesc.Size * (long)n, SplitRingLayout.DescTableSize(n));
        }
    }

    [Fact]
    public void LegacyVringSize_256_Is10246()
    {
        // Linux vring_size(256, 4096): desc + avail, aligned to 4096, + used.
        const int n = 256, align = 4096;
        long size = SplitRingLayout.DescTableSize(n) + SplitRingLayout.AvailSize(n);
        size = (size + align - 1) & ~(long)(align - 1);
        size += SplitRingLayout.UsedSize(n);
        Assert.Equal(10246, size);
    }

    /// <summary>Linux include/uapi/linux/virtio_ring.h vring_need_event, transcribed with C's u16 arithmetic.</summary>
    private static bool KernelVringNeedEvent(int eventIdx, int newIdx, int old)
        => ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - old) & 0xFFFF);

    /// <summary>The meaning: notify when event_idx lies in the window [old, new) of indices just published (mod 2^16).</summary>
    private static bool CrossedWindow(ushort eventIdx, ushort newIdx, ushort old)
        => (ushort)(eventIdx - old) < (ushort)(newIdx - old);

    [Theory]
    // event, new, old, expected
    [InlineData(0, 1, 0, true)]      // first buffer, event at 0
    [InlineData(1, 1, 0, false)]     // event one ahead: not yet
    [InlineData(5, 10, 0, true)]     // inside the batch
    [InlineData(9, 10, 0, true)]     // last index of the batch
    [InlineData(10, 10, 0, false)]   // event == new: not crossed
    [InlineData(0, 10, 1, false)]    // behind old: already notified
    [InlineData(3, 3, 3, false)]     // nothing published
    [InlineData(65535, 0, 65535, true)]   // wrap: new wrapped to 0, event at 65535
    [InlineData(65535, 2, 65534, true)]   // wrap across 0
    [InlineData(0, 2, 65534, true)]       // event just after the wrap
    [InlineData(1, 2, 65534, true)]
    [InlineData(2, 2, 65534, false)]
    [InlineData(65533, 2, 65534, false)]  // event before old
    [InlineData(65534, 2, 65534, true)]   // event == old
    [InlineData(3, 5, 65000, true)]       // large batch across the wrap
    [InlineData(65200, 5, 65000, true)]
    [InlineData(5, 5, 65000, false)]
    [InlineData(100, 5, 65000, false)]    // beyond new
    [InlineData(64999, 5, 65000, false)]
    public void NeedEvent_Cases(int eventIdx, int newIdx, int oldIdx, bool expected)
    {
        bool got = SplitRingLayout.NeedEvent((ushort)eventIdx, (ushort)newIdx, (ushort)oldIdx);
        Assert.Equal(expected, got);
        Assert.Equal(KernelVringNeedEvent(eventIdx, newIdx, oldIdx), got);
    }

    [Fact]
    public void NeedEvent_AgreesWithKernelFormula_Property()
    {
        Gen.Select(Gen.UShort, Gen.UShort, Gen.UShort).Sample((e, n, o) =>
            SplitRingLayout.NeedEvent(e, n, o) == KernelVringNeedEvent(e, n, o)
            && SplitRingLayout.NeedEvent(e, n, o) == CrossedWindow(e, n, o), iter: 200_000);
    }

    [Fact]
    public void NeedEvent_ExhaustiveOverEventIndex_WithWrappingWindows()
    {
        // Every event index against a few windows that straddle the u16 wrap.
        (ushort Old, ushort New)[] windows = [(65530, 4), (65535, 0), (0, 0), (32768, 32767), (1, 32769), (100, 99)];
        foreach (var (old, nw) in windows)
        {
            int hits = 0;
            for (int e = 0; e <= ushort.MaxValue; e++)
            {
                bool got = SplitRingLayout.NeedEvent((ushort)e, nw, old);
                Assert.Equal(KernelVringNeedEvent(e, nw, old), got);
                if (got) hits++;
            }
            // Exactly (new - old) mod 2^16 event indices are crossed.
            Assert.Equal((ushort)(nw - old), hits);
        }
    }
}
