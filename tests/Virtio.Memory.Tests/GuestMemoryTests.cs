using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>Guest address spaces: overlap rejection, lookup, front-end translation.</summary>
public sealed class GuestMemoryTests : IDisposable
{
    private readonly List<MemoryRegion> _owned = [];

    private MemoryRegion Region(ulong gpa, long size)
    {
        var r = MemoryRegion.Anonymous(Gpa(gpa), size);
        _owned.Add(r);
        return r;
    }

    public void Dispose()
    {
        foreach (var r in _owned) r.Dispose();
    }

    [Fact]
    public void Empty_HasNoRegions()
    {
        Assert.Empty(GuestMemory.Empty.Regions);
        Assert.False(GuestMemory.Empty.TryFind(Gpa(0), out _));
    }

    [Fact]
    public void Create_SortsByStart()
    {
        var c = Region(0x30000, Page);
        var a = Region(0x10000, Page);
        var b = Region(0x20000, Page);
        var m = GuestMemory.Create(c, a, b);
        Assert.Equal([a, b, c], m.Regions);
    }

    [Theory]
    // second region start, size; first is [0x10000, 0x12000)
    [InlineData(0x10000UL, 4096L)]   // same start
    [InlineData(0x11fffUL, 4096L)]   // starts on the first's last byte
    [InlineData(0x0f001UL, 4096L)]   // ends inside the first
    [InlineData(0x0f000UL, 0x10000L)] // contains the first
    [InlineData(0x10800UL, 1024L)]   // inside the first
    public void Create_RejectsOverlap(ulong start, long size)
    {
        var first = Region(0x10000, 2 * Page);
        var second = Region(start, size);
        Assert.Throws<ArgumentException>(() => GuestMemory.Create(first, second));
        Assert.Throws<ArgumentException>(() => GuestMemory.Create(second, first));
        Assert.Throws<ArgumentException>(() => GuestMemory.Create(first).With(second));
    }

    [Fact]
    public void Create_AcceptsAdjacentRegions()
    {
        var a = Region(0x10000, Page);
        var b = Region(0x11000, Page);
        var m = GuestMemory.Create(b, a);
        Assert.Equal(2, m.Regions.Count);
    }

    [Fact]
    public void Create_RejectsTheSameRegionTwice()
    {
        var a = Region(0x10000, Page);
        Assert.Throws<ArgumentException>(() => GuestMemory.Create(a, a));
    }

    [Theory]
    [InlineData(0x0UL, -1)]
    [InlineData(0xffffUL, -1)]
    [InlineData(0x10000UL, 0)]
    [InlineData(0x10fffUL, 0)]
    [InlineData(0x11000UL, -1)]   // gap
    [InlineData(0x1ffffUL, -1)]
    [InlineData(0x20000UL, 1)]
    [InlineData(0x21fffUL, 1)]
    [InlineData(0x22000UL, 2)]    // adjacent third region
    [InlineData(0x22fffUL, 2)]
    [InlineData(0x23000UL, -1)]
    [InlineData(ulong.MaxValue, -1)]
    public void TryFind(ulong address, int expectedIndex)
    {
        var regions = new[] { Region(0x10000, Page), Region(0x20000, 2 * Page), Region(0x22000, Page) };
        var m = GuestMemory.Create(regions);
        bool found = m.TryFind(Gpa(address), out var r);
        Assert.Equal(expectedIndex >= 0, found);
        if (found) Assert.Same(regions[expectedIndex], r);
    }

    [Fact]
    public void TryFind_ManyRegions_FindsEach()
    {
        var regions = Enumerable.Range(0, 37).Select(i => Region((ulong)i * 3 * Page, Page)).ToArray();
        var m = GuestMemory.Create(regions.Reverse());
        for (int i = 0; i < regions.Length; i++)
        {
            Assert.True(m.TryFind(Gpa(regions[i].Start.Value + 17), out var r));
            Assert.Same(regions[i], r);
            Assert.False(m.TryFind(Gpa(regions[i].Start.Value + Page), out _));
        }
    }

    [Fact]
    public void With_And_Without_ReturnCopies()
    {
        var a = Region(0x10000, Page);
        var b = Region(0x20000, Page);
        var m1 = GuestMemory.Create(a);
        var m2 = m1.With(b);
        var m3 = m2.Without(a);
        Assert.Single(m1.Regions);
        Assert.Equal([a, b], m2.Regions);
        Assert.Equal([b], m3.Regions);
        Assert.Same(b, Assert.Single(m2.Without(a).Regions));
        Assert.Equal(2, m2.Without(Region(0x10000, Page)).Regions.Count); // only by reference
    }

    [Fact]
    public void TryTranslate_FrontendAddress()
    {
        using var src = MemoryRegion.Shared(Gpa(0), 2 * Page);
        using var r = MemoryRegion.FromDescriptor(Gpa(0x40000), src.Descriptor!.Duplicate(), 0, 2 * Page,
            frontendStart: new FrontendAddress(0x7f00_0000_0000));
        var m = GuestMemory.Create(Region(0x10000, Page), r);

        Assert.True(m.TryTranslate(new FrontendAddress(0x7f00_0000_0010), 16, out var gpa));
        Assert.Equal(Gpa(0x40010), gpa);
        Assert.True(m.TryTranslate(new FrontendAddress(0x7f00_0000_0000), 2 * Page, out gpa));
        Assert.Equal(Gpa(0x40000), gpa);
        Assert.False(m.TryTranslate(new FrontendAddress(0x7f00_0000_0000), 2 * Page + 1, out _));
        Assert.False(m.TryTranslate(new FrontendAddress(0x7f00_0000_1fff), 2, out _));
        Assert.False(m.TryTranslate(new FrontendAddress(0x7eff_ffff_ffff), 1, out _));
        Assert.False(m.TryTranslate(new FrontendAddress(0x7f00_0000_0000), ulong.MaxValue, out _));
        Assert.False(m.TryTranslate(new FrontendAddress(ulong.MaxValue), 1, out _));
    }
}
