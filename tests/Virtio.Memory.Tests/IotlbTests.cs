using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>IOTLB updates: set_map (replace-all) and dma_map/dma_unmap (incremental), as drivers/vhost/iotlb.c.</summary>
public class IotlbTests
{
    private static IotlbEntry Entry(ulong iova, ulong size, ulong gpa, AccessPermission perm = AccessPermission.ReadWrite)
    {
        Assert.True(IotlbEntry.TryCreate(Iova(iova), size, Gpa(gpa), perm, out var e));
        return e;
    }

    private static ulong[] Starts(Iotlb t) => t.Snapshot().Entries.Select(e => e.First.Value).ToArray();

    [Fact]
    public void StartsInPassThrough_WithDefaultLimit()
    {
        var t = new Iotlb();
        Assert.True(t.IsPassThrough);
        Assert.Equal(2048, t.MaxEntries);
        var (pt, entries) = t.Snapshot();
        Assert.True(pt);
        Assert.Empty(entries);
    }

    [Fact]
    public void NegativeLimit_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => new Iotlb(-1));

    [Theory]
    [InlineData(0x1000UL, 0x1000UL, 0x5000UL, true, 0x1fffUL)]
    [InlineData(0UL, 0UL, 0UL, false, 0UL)]                        // empty
    [InlineData(ulong.MaxValue, 1UL, 0UL, true, ulong.MaxValue)]   // last byte of the space
    [InlineData(ulong.MaxValue, 2UL, 0UL, false, 0UL)]             // iova wraps
    [InlineData(0UL, 2UL, ulong.MaxValue, false, 0UL)]             // target wraps
    [InlineData(0UL, ulong.MaxValue, 0UL, true, ulong.MaxValue - 1)]
    public void Entry_TryCreate(ulong iova, ulong size, ulong gpa, bool ok, ulong last)
    {
        Assert.Equal(ok, IotlbEntry.TryCreate(Iova(iova), size, Gpa(gpa), AccessPermission.Read, out var e));
        if (ok)
        {
            Assert.Equal(Iova(iova), e.First);
            Assert.Equal(Iova(last), e.Last);
            Assert.Equal(Gpa(gpa), e.Target);
        }
    }

    [Fact]
    public void SetMap_ReplacesEverything_AndSorts()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Ok, t.SetMap([Entry(0x3000, 0x1000, 0), Entry(0x1000, 0x1000, 0)]));
        Assert.False(t.IsPassThrough);
        Assert.Equal([0x1000UL, 0x3000UL], Starts(t));
        Assert.Equal(IotlbResult.Ok, t.SetMap([Entry(0x8000, 0x1000, 0)]));
        Assert.Equal([0x8000UL], Starts(t));
    }

    [Fact]
    public void SetMap_Empty_UnmapsEverythingAndLeavesPassThrough()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Ok, t.SetMap([]));
        Assert.False(t.IsPassThrough);
        Assert.Empty(t.Snapshot().Entries);
    }

    [Fact]
    public void SetMap_Invalid_LeavesStateUnchanged()
    {
        var t = new Iotlb();
        t.SetMap([Entry(0x1000, 0x1000, 0)]);
        int changes = 0;
        t.Changed += () => changes++;

        // Overlapping entries.
        Assert.Equal(IotlbResult.Invalid, t.SetMap([Entry(0x1000, 0x2000, 0), Entry(0x2000, 0x1000, 0)]));
        // No permission.
        Assert.Equal(IotlbResult.Invalid, t.SetMap([new IotlbEntry(Iova(0), Iova(0xfff), Gpa(0), AccessPermission.None)]));
        // Last before First.
        Assert.Equal(IotlbResult.Invalid, t.SetMap([new IotlbEntry(Iova(0x2000), Iova(0x1000), Gpa(0), AccessPermission.Read)]));

        Assert.Equal([0x1000UL], Starts(t));
        Assert.Equal(0, changes);
    }

    [Fact]
    public void SetMap_WrappingTarget_IsInvalid()
    {
        // Regression: entries built with the record constructor bypass TryCreate's target-wrap check.
        var t = new Iotlb();
        var wrapping = new IotlbEntry(Iova(0), Iova(0x1fff), Gpa(ulong.MaxValue - 0xfff), AccessPermission.Read);
        Assert.Equal(IotlbResult.Invalid, t.SetMap([wrapping]));
        Assert.True(t.IsPassThrough);
        var topEdge = new IotlbEntry(Iova(0), Iova(0xfff), Gpa(ulong.MaxValue - 0xfff), AccessPermission.Read);
        Assert.Equal(IotlbResult.Ok, t.SetMap([topEdge]));
    }

    [Fact]
    public void SetMap_AboveLimit_IsNoSpace()
    {
        var t = new Iotlb(maxEntries: 2);
        Assert.Equal(IotlbResult.Ok, t.SetMap([Entry(0, 1, 0), Entry(1, 1, 0)]));
        Assert.Equal(IotlbResult.NoSpace, t.SetMap([Entry(0, 1, 0), Entry(1, 1, 0), Entry(2, 1, 0)]));
        Assert.Equal(2, t.Snapshot().Entries.Length);
    }

    [Fact]
    public void Map_FirstMapLeavesPassThrough()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x1000), 0x1000, Gpa(0x9000), AccessPermission.Read));
        Assert.False(t.IsPassThrough);
        var e = Assert.Single(t.Snapshot().Entries);
        Assert.Equal(new IotlbEntry(Iova(0x1000), Iova(0x1fff), Gpa(0x9000), AccessPermission.Read), e);
    }

    [Fact]
    public void Map_IsIncrementalAndSorted()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x5000), 0x1000, Gpa(0), AccessPermission.ReadWrite));
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x1000), 0x1000, Gpa(0), AccessPermission.ReadWrite));
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x3000), 0x1000, Gpa(0), AccessPermission.ReadWrite));
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x2000), 0x1000, Gpa(0), AccessPermission.ReadWrite)); // adjacent both sides
        Assert.Equal([0x1000UL, 0x2000UL, 0x3000UL, 0x5000UL], Starts(t));
    }

    [Theory]
    // existing [0x2000, 0x3fff]
    [InlineData(0x2000UL, 0x2000UL)]  // same
    [InlineData(0x1000UL, 0x1001UL)]  // ends on the first byte
    [InlineData(0x3fffUL, 0x1000UL)]  // starts on the last byte
    [InlineData(0x2800UL, 0x100UL)]   // inside
    [InlineData(0x1000UL, 0x4000UL)]  // contains
    public void Map_Overlap_IsRejected(ulong iova, ulong size)
    {
        var t = new Iotlb();
        t.Map(Iova(0x2000), 0x2000, Gpa(0), AccessPermission.ReadWrite);
        int changes = 0;
        t.Changed += () => changes++;
        Assert.Equal(IotlbResult.Overlap, t.Map(Iova(iova), size, Gpa(0x100000), AccessPermission.Read));
        Assert.Single(t.Snapshot().Entries);
        Assert.Equal(0, changes);
    }

    [Fact]
    public void Map_Invalid()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Invalid, t.Map(Iova(0), 0, Gpa(0), AccessPermission.Read));
        Assert.Equal(IotlbResult.Invalid, t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.None));
        Assert.Equal(IotlbResult.Invalid, t.Map(Iova(ulong.MaxValue), 2, Gpa(0), AccessPermission.Read));
        Assert.Equal(IotlbResult.Invalid, t.Map(Iova(0), 2, Gpa(ulong.MaxValue), AccessPermission.Read));
        Assert.True(t.IsPassThrough); // failures change nothing
    }

    [Fact]
    public void Map_AtLimit_IsNoSpace()
    {
        var t = new Iotlb(maxEntries: 3);
        for (ulong i = 0; i < 3; i++) Assert.Equal(IotlbResult.Ok, t.Map(Iova(i * 0x1000), 0x1000, Gpa(0), AccessPermission.Read));
        Assert.Equal(IotlbResult.NoSpace, t.Map(Iova(0x10000), 0x1000, Gpa(0), AccessPermission.Read));
        Assert.Equal(3, t.Snapshot().Entries.Length);
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0), 1));
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x10000), 0x1000, Gpa(0), AccessPermission.Read));
    }

    [Fact]
    public void Map_OverlapIsReportedBeforeTheLimit()
    {
        var t = new Iotlb(maxEntries: 1);
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read));
        Assert.Equal(IotlbResult.Overlap, t.Map(Iova(0x800), 0x1000, Gpa(0), AccessPermission.Read));
        Assert.Equal(IotlbResult.NoSpace, t.Map(Iova(0x2000), 0x1000, Gpa(0), AccessPermission.Read));
    }

    [Fact]
    public void Map_UnlimitedWhenLimitIsZero()
    {
        var t = new Iotlb(maxEntries: 0);
        for (ulong i = 0; i < 3000; i++) Assert.Equal(IotlbResult.Ok, t.Map(Iova(i * 2), 1, Gpa(0), AccessPermission.Read));
        Assert.Equal(3000, t.Snapshot().Entries.Length);
    }

    [Fact]
    public void Unmap_RemovesWholeIntersectingEntries()
    {
        var t = new Iotlb();
        t.Map(Iova(0x1000), 0x2000, Gpa(0), AccessPermission.ReadWrite); // [0x1000, 0x2fff]
        t.Map(Iova(0x4000), 0x1000, Gpa(0), AccessPermission.ReadWrite); // [0x4000, 0x4fff]
        t.Map(Iova(0x6000), 0x1000, Gpa(0), AccessPermission.ReadWrite); // [0x6000, 0x6fff]

        // One byte in the middle of the first entry removes all of it (vhost_iotlb_del_range).
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0x1800), 1));
        Assert.Equal([0x4000UL, 0x6000UL], Starts(t));

        // A range touching nothing removes nothing.
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0x5000), 0x1000));
        Assert.Equal([0x4000UL, 0x6000UL], Starts(t));

        // A range spanning the last byte of one and the first of the next removes both.
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0x4fff), 0x1002));
        Assert.Empty(t.Snapshot().Entries);
        Assert.False(t.IsPassThrough);
    }

    [Fact]
    public void Unmap_InPassThrough_LeavesAnEmptyMap()
    {
        // vdpa_sim_dma_unmap: the first update resets the identity mapping.
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0x1000), 0x1000));
        Assert.False(t.IsPassThrough);
        Assert.Empty(t.Snapshot().Entries);
    }

    [Fact]
    public void Unmap_Invalid()
    {
        var t = new Iotlb();
        Assert.Equal(IotlbResult.Invalid, t.Unmap(Iova(0), 0));
        Assert.Equal(IotlbResult.Invalid, t.Unmap(Iova(ulong.MaxValue), 2));
        Assert.True(t.IsPassThrough);
    }

    [Fact]
    public void Unmap_WholeSpace()
    {
        var t = new Iotlb();
        t.Map(Iova(0), 1, Gpa(0), AccessPermission.Read);
        t.Map(Iova(ulong.MaxValue), 1, Gpa(0), AccessPermission.Read);
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(0), ulong.MaxValue)); // [0, 2^64-2]
        Assert.Equal([ulong.MaxValue], Starts(t));
        Assert.Equal(IotlbResult.Ok, t.Unmap(Iova(1), ulong.MaxValue)); // [1, 2^64-1]
        Assert.Empty(t.Snapshot().Entries);
    }

    [Fact]
    public void ResetToPassThrough_ClearsEntries()
    {
        var t = new Iotlb();
        t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read);
        t.ResetToPassThrough();
        Assert.True(t.IsPassThrough);
        Assert.Empty(t.Snapshot().Entries);
        // A map after the reset starts from an empty table again.
        Assert.Equal(IotlbResult.Ok, t.Map(Iova(0x1000), 0x1000, Gpa(0), AccessPermission.Read));
        Assert.Single(t.Snapshot().Entries);
    }

    [Fact]
    public void Changed_IsRaisedOncePerSuccessfulUpdate()
    {
        var t = new Iotlb();
        int changes = 0;
        t.Changed += () => changes++;
        t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read);
        t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read); // overlap: no change
        t.Unmap(Iova(0), 1);
        t.SetMap([Entry(0, 1, 0)]);
        t.ResetToPassThrough();
        Assert.Equal(4, changes);
    }

    [Fact]
    public void Snapshot_IsNotAffectedByLaterUpdates()
    {
        var t = new Iotlb();
        t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read);
        var (_, before) = t.Snapshot();
        t.Map(Iova(0x1000), 0x1000, Gpa(0), AccessPermission.Read);
        t.Unmap(Iova(0), 1);
        Assert.Single(before);
        Assert.Equal(Iova(0), before[0].First);
    }

    [Fact]
    public void Snapshot_IsACopy_WritingIntoItDoesNotChangeTheTable()
    {
        // Regression: Snapshot used to hand out the live entry array.
        var t = new Iotlb();
        t.Map(Iova(0), 0x1000, Gpa(0), AccessPermission.Read);
        var (_, entries) = t.Snapshot();
        entries[0] = new IotlbEntry(Iova(0), Iova(ulong.MaxValue), Gpa(0), AccessPermission.ReadWrite);
        var (_, again) = t.Snapshot();
        Assert.Equal(Iova(0xfff), again[0].Last);
        Assert.Equal(AccessPermission.Read, again[0].Permission);
    }
}
