using Uvdpa.Virtio.Abi;
using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>DmaView accesses: pass-through identity over registered regions only; bounds, overflow and permission checks.</summary>
public sealed class DmaViewTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
    }

    /// <summary>A pass-through space over the given regions; the lease is released by Dispose.</summary>
    private DmaView PassThrough(params MemoryRegion[] regions)
    {
        foreach (var r in regions) Own(r);
        var space = Own(new DmaSpace(GuestMemory.Create(regions)));
        var lease = space.Acquire();
        _owned.Add(lease);
        return lease.View;
    }

    private DmaView Translated(Iotlb iotlb, params MemoryRegion[] regions)
    {
        foreach (var r in regions) Own(r);
        var space = Own(new DmaSpace(GuestMemory.Create(regions), iotlb));
        var lease = space.Acquire();
        _owned.Add(lease);
        return lease.View;
    }

    [Fact]
    public void PassThrough_ReadWriteInsideARegion()
    {
        var r = Filled(0x10000, Page, 0x11);
        var v = PassThrough(r);
        Assert.Equal(1, v.SegmentCount);
        Assert.True(v.TryWrite(Iova(0x10010), [1, 2, 3, 4]));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, Peek(r, 0x10, 4));
        var buf = new byte[6];
        Assert.True(v.TryRead(Iova(0x1000f), buf));
        Assert.Equal(new byte[] { 0x11, 1, 2, 3, 4, 0x11 }, buf);
    }

    [Theory]
    [InlineData(0x0UL)]        // below the first region
    [InlineData(0xffffUL)]     // last byte before it
    [InlineData(0x11000UL)]    // the gap between the regions
    [InlineData(0x1ffffUL)]
    [InlineData(0x22000UL)]    // after the last region
    [InlineData(ulong.MaxValue)]
    public void PassThrough_AddressOutsideRegions_Fails(ulong address)
    {
        var v = PassThrough(Filled(0x10000, Page, 1), Filled(0x20000, 2 * Page, 2));
        var a = Iova(address);
        Assert.False(v.TryRead(a, new byte[1]));
        Assert.False(v.TryWrite(a, [0]));
        Assert.False(v.TryFill(a, 1, 0));
        Assert.False(v.TryReadUInt16(a, out _));
        Assert.False(v.TryReadUInt32(a, out _));
        Assert.False(v.TryWriteUInt16(a, 0));
        Assert.False(v.TryWriteUInt32(a, 0));
        Assert.False(v.TryWriteUInt64(a, 0));
        Assert.False(v.TryRead<VirtqDesc>(a, out _));
        Assert.False(v.TryWrite(a, new VirtqDesc()));
        Assert.False(v.IsAccessible(a, 1, AccessPermission.Read));
        Assert.False(v.DangerousTryGetSpan(a, 1, AccessPermission.Read, out _));
    }

    [Fact]
    public void PassThrough_NeverTouchesRawProcessMemory()
    {
        // An IOVA equal to a real process address (the region's own mapping, or this array's memory) must not
        // resolve: pass-through is identity over guest-physical addresses, not over the process.
        var r = Filled(0x10000, Page, 0x5a);
        var v = PassThrough(r);
        ulong host = (ulong)r.Mapping.Address;
        Assert.False(v.TryRead(Iova(host), new byte[1]));
        Assert.False(v.TryWrite(Iova(host), [0]));
        Assert.Equal(0x5a, Peek(r, 0, 1)[0]);

        var managed = GC.AllocateArray<byte>(16, pinned: true);
        ulong p = (ulong)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(managed, 0);
        Assert.False(v.TryWrite(Iova(p), [1, 2, 3]));
        Assert.False(v.TryRead(Iova(p), new byte[3]));
        Assert.All(managed, b => Assert.Equal(0, b));
    }

    [Fact]
    public void PassThrough_EmptyMemory_MapsNothing()
    {
        var v = PassThrough();
        Assert.Equal(0, v.SegmentCount);
        Assert.False(v.TryRead(Iova(0), new byte[1]));
        Assert.True(v.TryRead(Iova(0), [])); // empty access is trivially fine
        Assert.True(v.IsAccessible(Iova(0), 0, AccessPermission.Write));
    }

    [Fact]
    public void ContiguousRegions_AccessesCrossingTheBoundary_Succeed()
    {
        // Two separate mappings at adjacent guest addresses: one GPA range, two host ranges.
        var a = Filled(0x10000, Page, 0xaa);
        var b = Filled(0x11000, Page, 0xbb);
        var v = PassThrough(a, b);
        Assert.Equal(2, v.SegmentCount);

        var buf = new byte[8];
        Assert.True(v.TryRead(Iova(0x10ffc), buf));
        Assert.Equal(new byte[] { 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb }, buf);

        Assert.True(v.TryWrite(Iova(0x10ffe), [1, 2, 3, 4]));
        Assert.Equal(new byte[] { 1, 2 }, Peek(a, Page - 2, 2));
        Assert.Equal(new byte[] { 3, 4 }, Peek(b, 0, 2));

        Assert.True(v.TryFill(Iova(0x10f00), 0x200, 0xcc));
        Assert.All(Peek(a, 0xf00, 0x100), x => Assert.Equal(0xcc, x));
        Assert.All(Peek(b, 0, 0x100), x => Assert.Equal(0xcc, x));
        Assert.Equal(0xbb, Peek(b, 0x100, 1)[0]);

        Assert.True(v.IsAccessible(Iova(0x10000), 2 * Page, AccessPermission.ReadWrite));

        // Struct access falls back to copying across the boundary.
        var desc = new VirtqDesc { Addr = 0x1122334455667788, Len = 0x99aabbcc, Flags = 3, Next = 7 };
        Assert.True(v.TryWrite(Iova(0x10ff8), desc));
        Assert.True(v.TryRead<VirtqDesc>(Iova(0x10ff8), out var back));
        Assert.Equal(desc, back);

        // A span is only handed out for one contiguous host range.
        Assert.False(v.DangerousTryGetSpan(Iova(0x10fff), 2, AccessPermission.Read, out _));
        Assert.True(v.DangerousTryGetSpan(Iova(0x10ff0), 16, AccessPermission.Read, out var span));
        Assert.Equal(16, span.Length);
    }

    [Fact]
    public void GapBetweenRegions_CrossingAccessesFail_AndWritesLeaveMemoryUntouched()
    {
        var a = Filled(0x10000, Page, 0xaa);
        var b = Filled(0x12000, Page, 0xbb);
        var v = PassThrough(a, b);
        Assert.False(v.TryRead(Iova(0x10ff0), new byte[32]));
        Assert.False(v.TryWrite(Iova(0x10ff0), new byte[32]));
        Assert.False(v.TryFill(Iova(0x10ff0), 32, 0));
        Assert.False(v.TryWrite(Iova(0x10ff8), new VirtqDesc { Addr = 1 }));
        Assert.False(v.IsAccessible(Iova(0x10ff0), 32, AccessPermission.Read));
        // A range spanning the whole gap into b.
        Assert.False(v.TryWrite(Iova(0x10000), new byte[3 * Page]));
        Assert.All(Peek(a, 0, Page), x => Assert.Equal(0xaa, x));
        Assert.All(Peek(b, 0, Page), x => Assert.Equal(0xbb, x));
    }

    [Theory]
    // address, length: every one wraps or reaches past the top of the address space
    [InlineData(ulong.MaxValue, 2)]
    [InlineData(ulong.MaxValue - 1, 3)]
    [InlineData(ulong.MaxValue - 4095, 4097)]
    public void TopOfAddressSpace_WrappingAccessesFail(ulong address, int length)
    {
        var top = Filled(ulong.MaxValue - Page + 1, Page, 0x33);
        var bottom = Filled(0, Page, 0x44); // a wrapped access must not continue here
        var v = PassThrough(top, bottom);
        Assert.False(v.TryRead(Iova(address), new byte[length]));
        Assert.False(v.TryWrite(Iova(address), new byte[length]));
        Assert.False(v.TryFill(Iova(address), (ulong)length, 0));
        Assert.False(v.IsAccessible(Iova(address), (ulong)length, AccessPermission.Read));
        Assert.False(v.DangerousTryGetSpan(Iova(address), length, AccessPermission.Read, out _));
        Assert.All(Peek(top, 0, Page), x => Assert.Equal(0x33, x));
        Assert.All(Peek(bottom, 0, Page), x => Assert.Equal(0x44, x));
    }

    [Fact]
    public void TopOfAddressSpace_LastBytesAreAccessible()
    {
        var top = Filled(ulong.MaxValue - Page + 1, Page, 0x33);
        var v = PassThrough(top);
        Assert.True(v.TryWrite(Iova(ulong.MaxValue), [0x99]));
        Assert.Equal(0x99, Peek(top, Page - 1, 1)[0]);
        Assert.True(v.TryReadUInt16(Iova(ulong.MaxValue - 1), out ushort u16));
        Assert.Equal(0x9933, u16);
        Assert.True(v.TryWriteUInt64(Iova(ulong.MaxValue - 7), 0x0102030405060708));
        Assert.False(v.TryWriteUInt64(Iova(ulong.MaxValue - 6), 0));
        Assert.True(v.TryRead(Iova(ulong.MaxValue - Page + 1), new byte[Page]));
        Assert.True(v.TryFill(Iova(ulong.MaxValue - Page + 1), Page, 7));
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(0x1001UL)]
    public void HugeLengths_FailWithoutTouchingMemory(ulong length)
    {
        var r = Filled(0x1000, Page, 0x21);
        var v = PassThrough(r);
        Assert.False(v.TryFill(Iova(0x1000), length, 0));
        Assert.False(v.IsAccessible(Iova(0x1000), length, AccessPermission.Read));
        Assert.False(v.IsAccessible(Iova(0x1fff), length, AccessPermission.Read));
        Assert.All(Peek(r, 0, Page), x => Assert.Equal(0x21, x));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void DangerousTryGetSpan_NonPositiveLength_Fails(int length)
    {
        var v = PassThrough(Filled(0, Page, 0));
        Assert.False(v.DangerousTryGetSpan(Iova(0), length, AccessPermission.Read, out var s));
        Assert.True(s.IsEmpty);
    }

    [Fact]
    public void DangerousTryGetSpan_AliasesGuestMemory()
    {
        var r = Filled(0x4000, Page, 0);
        var v = PassThrough(r);
        Assert.True(v.DangerousTryGetSpan(Iova(0x4100), 4, AccessPermission.ReadWrite, out var s));
        s[0] = 0xfe;
        Assert.Equal(0xfe, Peek(r, 0x100, 1)[0]);
        Assert.False(v.DangerousTryGetSpan(Iova(0x4ffd), 4, AccessPermission.Read, out _));
    }

    [Fact]
    public void ScalarAccessors_AreLittleEndianAndBoundsChecked()
    {
        var r = Filled(0x2000, Page, 0);
        var v = PassThrough(r);
        Assert.True(v.TryWriteUInt32(Iova(0x2001), 0x11223344));
        Assert.Equal(new byte[] { 0x44, 0x33, 0x22, 0x11 }, Peek(r, 1, 4));
        Assert.True(v.TryReadUInt32(Iova(0x2001), out uint u32));
        Assert.Equal(0x11223344U, u32);
        Assert.True(v.TryWriteUInt16(Iova(0x2005), 0xbeef));  // unaligned plain store is fine
        Assert.True(v.TryReadUInt16(Iova(0x2005), out ushort u16));
        Assert.Equal(0xbeef, u16);
        Assert.True(v.TryWriteUInt64(Iova(0x2ff8), ulong.MaxValue));
        Assert.All(Peek(r, 0xff8, 8), x => Assert.Equal(0xff, x));

        Assert.False(v.TryReadUInt32(Iova(0x2ffd), out _));
        Assert.False(v.TryWriteUInt32(Iova(0x2ffd), 0));
        Assert.False(v.TryWriteUInt64(Iova(0x2ff9), 0));
        Assert.False(v.TryReadUInt16(Iova(0x2fff), out _));
        Assert.False(v.TryWriteUInt16(Iova(0x2fff), 0));
        Assert.False(v.TryReadUInt16(Iova(0x1fff), out _));
    }

    [Fact]
    public void UInt16AcquireRelease_RoundTripsWhenAligned()
    {
        var r = Filled(0x2000, Page, 0);
        var v = PassThrough(r);
        Assert.True(v.TryWriteUInt16Release(Iova(0x2002), 0x1234));
        Assert.Equal(new byte[] { 0x34, 0x12 }, Peek(r, 2, 2));
        Assert.True(v.TryReadUInt16Acquire(Iova(0x2002), out ushort x));
        Assert.Equal(0x1234, x);
        Assert.True(v.TryReadUInt16Acquire(Iova(0x2ffe), out _));
    }

    [Theory]
    [InlineData(0x2001UL)]
    [InlineData(0x2fffUL)]   // also crosses the end
    [InlineData(0x2ff3UL)]
    public void UInt16AcquireRelease_Unaligned_Fails(ulong address)
    {
        var r = Filled(0x2000, Page, 0x5c);
        var v = PassThrough(r);
        Assert.False(v.TryReadUInt16Acquire(Iova(address), out ushort value));
        Assert.Equal(0, value);
        Assert.False(v.TryWriteUInt16Release(Iova(address), 0xffff));
        Assert.All(Peek(r, 0, Page), b => Assert.Equal(0x5c, b));
    }

    [Fact]
    public void UInt16AcquireRelease_OutsideOrWithoutPermission_Fails()
    {
        var rw = Filled(0x2000, Page, 0);
        var ro = ReadOnly(0x8000, Page, 0);
        var v = PassThrough(rw, ro);
        Assert.False(v.TryReadUInt16Acquire(Iova(0x4000), out _));
        Assert.False(v.TryWriteUInt16Release(Iova(0x4000), 1));
        Assert.True(v.TryReadUInt16Acquire(Iova(0x8000), out _));
        Assert.False(v.TryWriteUInt16Release(Iova(0x8000), 1));
    }

    [Fact]
    public void ReadOnlyRegion_InPassThrough_RejectsEveryWrite()
    {
        var ro = ReadOnly(0x8000, Page, 0x66);
        var v = PassThrough(ro);
        var buf = new byte[16];
        Assert.True(v.TryRead(Iova(0x8000), buf));
        Assert.All(buf, b => Assert.Equal(0x66, b));
        Assert.False(v.TryWrite(Iova(0x8000), [1]));
        Assert.False(v.TryFill(Iova(0x8000), 1, 1));
        Assert.False(v.TryWriteUInt16(Iova(0x8000), 1));
        Assert.False(v.TryWriteUInt16Release(Iova(0x8000), 1));
        Assert.False(v.TryWriteUInt32(Iova(0x8000), 1));
        Assert.False(v.TryWriteUInt64(Iova(0x8000), 1));
        Assert.False(v.TryWrite(Iova(0x8000), new VirtqUsedElem { Id = 1 }));
        Assert.False(v.DangerousTryGetSpan(Iova(0x8000), 1, AccessPermission.Write, out _));
        Assert.True(v.DangerousTryGetSpan(Iova(0x8000), 1, AccessPermission.Read, out _));
        Assert.True(v.IsAccessible(Iova(0x8000), Page, AccessPermission.Read));
        Assert.False(v.IsAccessible(Iova(0x8000), 1, AccessPermission.Write));
    }

    [Fact]
    public void FailedWrite_SpanningWritableThenReadOnly_LeavesMemoryUntouched()
    {
        var rw = Filled(0x7000, Page, 0x10);
        var ro = ReadOnly(0x8000, Page, 0x20);
        var v = PassThrough(rw, ro);
        Assert.False(v.TryWrite(Iova(0x7ff0), new byte[32]));
        Assert.False(v.TryWrite(Iova(0x7ffc), new VirtqDesc()));
        Assert.False(v.TryFill(Iova(0x7000), 2 * Page, 0));
        Assert.All(Peek(rw, 0, Page), b => Assert.Equal(0x10, b));
        // Reads across the same boundary are fine.
        Assert.True(v.TryRead(Iova(0x7ff0), new byte[32]));
    }

    [Fact]
    public void Iotlb_TranslatesToARegionAtADifferentGpa()
    {
        var r = Filled(0x40000, 2 * Page, 0);
        Poke(r, 0, [0xde, 0xad]);
        Poke(r, Page, [0xbe, 0xef]);
        var iotlb = new Iotlb();
        Assert.Equal(IotlbResult.Ok, iotlb.Map(Iova(0x1000), Page, Gpa(0x41000), AccessPermission.ReadWrite));
        Assert.Equal(IotlbResult.Ok, iotlb.Map(Iova(0x9000), Page, Gpa(0x40000), AccessPermission.ReadWrite));
        var v = Translated(iotlb, r);

        var buf = new byte[2];
        Assert.True(v.TryRead(Iova(0x1000), buf));
        Assert.Equal(new byte[] { 0xbe, 0xef }, buf);
        Assert.True(v.TryRead(Iova(0x9000), buf));
        Assert.Equal(new byte[] { 0xde, 0xad }, buf);

        // The identity addresses are not mapped any more.
        Assert.False(v.TryRead(Iova(0x40000), buf));
        Assert.False(v.TryRead(Iova(0x41000), buf));
        // Neither are the bytes just outside each entry.
        Assert.False(v.TryRead(Iova(0x0fff), new byte[1]));
        Assert.False(v.TryRead(Iova(0x2000), new byte[1]));
        Assert.False(v.TryRead(Iova(0x1fff), new byte[2]));

        Assert.True(v.TryWriteUInt32(Iova(0x1004), 0xcafef00d));
        Assert.Equal(new byte[] { 0x0d, 0xf0, 0xfe, 0xca }, Peek(r, Page + 4, 4));
    }

    [Fact]
    public void Iotlb_TwoIovaRangesAliasingOneGpa_SeeTheSameBytes()
    {
        var r = Filled(0x10000, Page, 0);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0x1000), Page, Gpa(0x10000), AccessPermission.ReadWrite);
        iotlb.Map(Iova(0x5000), Page, Gpa(0x10000), AccessPermission.Read);
        var v = Translated(iotlb, r);
        Assert.True(v.TryWriteUInt16Release(Iova(0x1010), 77));
        Assert.True(v.TryReadUInt16Acquire(Iova(0x5010), out var x));
        Assert.Equal(77, x);
    }

    [Fact]
    public void Iotlb_EntryOverAGuestHole_MapsOnlyTheRegionParts()
    {
        // One IOVA entry covering GPA [0x10000, 0x13000): region, hole, region.
        var a = Filled(0x10000, Page, 0xa1);
        var b = Filled(0x12000, Page, 0xb2);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0x100000), 3 * Page, Gpa(0x10000), AccessPermission.ReadWrite);
        var v = Translated(iotlb, a, b);
        Assert.Equal(2, v.SegmentCount);
        Assert.True(v.TryRead(Iova(0x100000), new byte[Page]));
        Assert.False(v.TryRead(Iova(0x101000), new byte[1]));
        Assert.True(v.TryRead(Iova(0x102000), new byte[Page]));
        Assert.False(v.TryRead(Iova(0x100ff0), new byte[32]));
        Assert.False(v.TryWrite(Iova(0x100000), new byte[3 * Page]));
        Assert.All(Peek(a, 0, Page), x => Assert.Equal(0xa1, x));
    }

    [Fact]
    public void Iotlb_EntryPartlyCoveringARegion()
    {
        var r = Filled(0x10000, 4 * Page, 0x55);
        var iotlb = new Iotlb();
        // IOVA [0, 0x3000) -> GPA [0xf000, 0x12000): only [0x10000, 0x12000) is memory.
        iotlb.Map(Iova(0), 3 * Page, Gpa(0xf000), AccessPermission.Read);
        var v = Translated(iotlb, r);
        Assert.False(v.TryRead(Iova(0xfff), new byte[1]));
        Assert.True(v.TryRead(Iova(0x1000), new byte[2 * Page]));
        Assert.False(v.TryRead(Iova(0x1000), new byte[2 * Page + 1]));
    }

    [Fact]
    public void Iotlb_ReadOnlyEntry_AllowsReadsOnly()
    {
        var r = Filled(0x10000, Page, 0x42);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.Read);
        var v = Translated(iotlb, r);
        Assert.True(v.TryRead(Iova(0), new byte[Page]));
        Assert.True(v.TryReadUInt16Acquire(Iova(0), out _));
        Assert.False(v.TryWrite(Iova(0), [1]));
        Assert.False(v.TryWriteUInt16Release(Iova(0), 1));
        Assert.False(v.TryFill(Iova(0), 1, 1));
        Assert.False(v.IsAccessible(Iova(0), 1, AccessPermission.ReadWrite));
        Assert.All(Peek(r, 0, Page), x => Assert.Equal(0x42, x));
    }

    [Fact]
    public void Iotlb_WriteOnlyEntry_AllowsWritesOnly()
    {
        var r = Filled(0x10000, Page, 0x42);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.Write);
        var v = Translated(iotlb, r);
        Assert.False(v.TryRead(Iova(0), new byte[1]));
        Assert.False(v.TryReadUInt16(Iova(0), out _));
        Assert.False(v.TryReadUInt16Acquire(Iova(0), out _));
        Assert.False(v.TryRead<VirtqDesc>(Iova(0), out _));
        Assert.False(v.DangerousTryGetSpan(Iova(0), 1, AccessPermission.Read, out _));
        Assert.True(v.TryWrite(Iova(0), [1, 2]));
        Assert.True(v.TryWriteUInt16Release(Iova(2), 0x0403));
        Assert.True(v.DangerousTryGetSpan(Iova(0), 1, AccessPermission.Write, out _));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, Peek(r, 0, 4));
    }

    [Fact]
    public void Iotlb_ReadWriteEntryOverReadOnlyRegion_CannotWrite()
    {
        var ro = ReadOnly(0x10000, Page, 0x42);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.ReadWrite);
        var v = Translated(iotlb, ro);
        Assert.True(v.TryRead(Iova(0), new byte[1]));
        Assert.False(v.TryWrite(Iova(0), [1]));
    }

    [Fact]
    public void Iotlb_WriteOnlyEntryOverReadOnlyRegion_MapsNothing()
    {
        var ro = ReadOnly(0x10000, Page, 0x42);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.Write);
        var v = Translated(iotlb, ro);
        Assert.Equal(0, v.SegmentCount);
        Assert.False(v.TryWrite(Iova(0), [1]));
        Assert.False(v.TryRead(Iova(0), new byte[1]));
    }

    [Fact]
    public void Iotlb_MixedPermissions_AcrossAdjacentEntries()
    {
        var r = Filled(0x10000, 2 * Page, 0);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.ReadWrite);
        iotlb.Map(Iova(Page), Page, Gpa(0x11000), AccessPermission.Read);
        var v = Translated(iotlb, r);
        Assert.True(v.TryRead(Iova(Page - 4), new byte[8]));
        Assert.False(v.TryWrite(Iova(Page - 4), new byte[8]));
        Assert.All(Peek(r, Page - 4, 8), x => Assert.Equal(0, x));
        Assert.True(v.IsAccessible(Iova(0), 2 * Page, AccessPermission.Read));
        Assert.False(v.IsAccessible(Iova(0), 2 * Page, AccessPermission.Write));
        Assert.True(v.IsAccessible(Iova(0), Page, AccessPermission.Write));
    }

    [Fact]
    public void Iotlb_EntryAtTopOfIovaSpace()
    {
        var r = Filled(0x10000, Page, 0x31);
        var iotlb = new Iotlb();
        iotlb.Map(Iova(ulong.MaxValue - Page + 1), Page, Gpa(0x10000), AccessPermission.ReadWrite);
        var v = Translated(iotlb, r);
        Assert.True(v.TryRead(Iova(ulong.MaxValue), new byte[1]));
        Assert.True(v.TryWrite(Iova(ulong.MaxValue - 1), [9, 9]));
        Assert.False(v.TryRead(Iova(ulong.MaxValue), new byte[2]));
        Assert.False(v.TryRead(Iova(0), new byte[1]));
        Assert.Equal(new byte[] { 9, 9 }, Peek(r, Page - 2, 2));
    }

    [Fact]
    public void Iotlb_FullSpaceEntry_ReadsAcrossTheWholeRange()
    {
        // An entry covering IOVA 0..2^64-2 -> GPA 0..: only the region part resolves.
        var r = Filled(0, Page, 0x12);
        var iotlb = new Iotlb();
        Assert.Equal(IotlbResult.Ok, iotlb.Map(Iova(0), ulong.MaxValue, Gpa(0), AccessPermission.ReadWrite));
        var v = Translated(iotlb, r);
        Assert.True(v.TryRead(Iova(0), new byte[Page]));
        Assert.False(v.TryRead(Iova(Page), new byte[1]));
        Assert.False(v.TryRead(Iova(ulong.MaxValue - 1), new byte[1]));
    }
}
