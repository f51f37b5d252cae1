using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>Regions: placement, bounds, shared mappings and lifetime.</summary>
public class MemoryRegionTests
{
    [Fact]
    public void Anonymous_Properties()
    {
        using var r = MemoryRegion.Anonymous(Gpa(0x10000), 2 * Page);
        Assert.Equal(Gpa(0x10000), r.Start);
        Assert.Equal(2 * Page, r.Size);
        Assert.Equal(Gpa(0x10000 + 2 * Page - 1), r.Last);
        Assert.True(r.Writable);
        Assert.Null(r.Descriptor);
        Assert.Null(r.FrontendStart);
        Assert.Equal(0, Peek(r, 0, 1)[0]);
    }

    [Fact]
    public void Region_EndingExactlyAtTopOfAddressSpace_IsAllowed()
    {
        using var r = MemoryRegion.Anonymous(Gpa(ulong.MaxValue - Page + 1), Page);
        Assert.Equal(Gpa(ulong.MaxValue), r.Last);
        Assert.True(r.Contains(Gpa(ulong.MaxValue), 1));
        Assert.False(r.Contains(Gpa(ulong.MaxValue), 2));
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(ulong.MaxValue - 4094)]
    public void Region_WhoseEndWraps_IsRejected(ulong start)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryRegion.Anonymous(Gpa(start), Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryRegion.Shared(Gpa(start), Page));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void Region_NonPositiveSize_IsRejected(long size)
        => Assert.Throws<ArgumentOutOfRangeException>(() => MemoryRegion.Anonymous(Gpa(0), size));

    [Theory]
    // address, length, expected; region is [0x1000, 0x2000)
    [InlineData(0x1000UL, 1UL, true)]
    [InlineData(0x1000UL, 0x1000UL, true)]
    [InlineData(0x1fffUL, 1UL, true)]
    [InlineData(0x1fffUL, 2UL, false)]
    [InlineData(0x0fffUL, 1UL, false)]
    [InlineData(0x0fffUL, 2UL, false)]
    [InlineData(0x2000UL, 1UL, false)]
    [InlineData(0x1000UL, 0x1001UL, false)]
    [InlineData(0x1800UL, ulong.MaxValue, false)]
    [InlineData(ulong.MaxValue, 2UL, false)]
    [InlineData(0x1001UL, ulong.MaxValue, false)]
    public void Contains_IsBoundsAndOverflowChecked(ulong address, ulong length, bool expected)
    {
        using var r = MemoryRegion.Anonymous(Gpa(0x1000), Page);
        Assert.Equal(expected, r.Contains(Gpa(address), length));
    }

    [Fact]
    public void MapAgain_SharesTheBytes_AtADifferentProcessAndGuestAddress()
    {
        using var a = MemoryRegion.Shared(Gpa(0), 2 * Page);
        using var b = a.MapAgain(Gpa(0x100000));
        Assert.Equal(Gpa(0x100000), b.Start);
        Assert.Equal(a.Size, b.Size);
        Assert.NotEqual(a.Mapping.Address, b.Mapping.Address);
        Assert.NotNull(b.Descriptor);
        Assert.NotEqual(a.Descriptor!.Value, b.Descriptor!.Value);

        Poke(a, 123, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, Peek(b, 123, 3));
        Poke(b, Page + 5, [9]);
        Assert.Equal(9, Peek(a, Page + 5, 1)[0]);
    }

    [Fact]
    public void MapAgain_SurvivesDisposingTheOriginal()
    {
        var a = MemoryRegion.Shared(Gpa(0), Page);
        Poke(a, 0, [0x42]);
        using var b = a.MapAgain(Gpa(0));
        a.Dispose();
        Assert.True(a.Mapping.IsClosed);
        Assert.Equal(0x42, Peek(b, 0, 1)[0]);
    }

    [Fact]
    public void MapAgain_OfPrivateMemory_Throws()
    {
        using var r = MemoryRegion.Anonymous(Gpa(0), Page);
        Assert.Throws<InvalidOperationException>(() => r.MapAgain(Gpa(0x1000)));
    }

    [Fact]
    public void FromDescriptor_KeepsWritabilityAndFrontendAddress()
    {
        using var src = MemoryRegion.Shared(Gpa(0), Page);
        using var ro = MemoryRegion.FromDescriptor(Gpa(0x4000), src.Descriptor!.Duplicate(), 0, Page, writable: false,
            frontendStart: new FrontendAddress(0x7f00_0000_0000));
        Assert.False(ro.Writable);
        Assert.Equal(new FrontendAddress(0x7f00_0000_0000), ro.FrontendStart);
        using var again = ro.MapAgain(Gpa(0x8000));
        Assert.False(again.Writable);
        Assert.Equal(ro.FrontendStart, again.FrontendStart);
    }

    [Fact]
    public void FromDescriptor_AtAnOffset_SeesThatPartOfTheFile()
    {
        using var src = MemoryRegion.Shared(Gpa(0), 4 * Page);
        Poke(src, 2 * Page + 7, [0x77]);
        using var tail = MemoryRegion.FromDescriptor(Gpa(0x10000), src.Descriptor!.Duplicate(), 2 * Page, 2 * Page);
        Assert.Equal(2 * Page, tail.DescriptorOffset);
        Assert.Equal(0x77, Peek(tail, 7, 1)[0]);
    }

    [Fact]
    public void Dispose_ClosesMappingAndDescriptor()
    {
        var r = MemoryRegion.Shared(Gpa(0), Page);
        var fd = r.Descriptor!;
        r.Dispose();
        Assert.True(r.Mapping.IsClosed);
        Assert.True(fd.IsClosed);
    }
}
