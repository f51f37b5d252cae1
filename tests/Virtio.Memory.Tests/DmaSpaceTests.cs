using static Uvdpa.Virtio.Memory.Tests.TestMemory;

namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>DmaSpace snapshots: RCU-style publication, leases pinning old mappings, disposal.</summary>
public class DmaSpaceTests
{
    private static byte ReadByte(DmaView v, ulong iova)
    {
        var b = new byte[1];
        Assert.True(v.TryRead(Iova(iova), b));
        return b[0];
    }

    [Fact]
    public void Defaults_NewPassThroughIotlb()
    {
        using var r = Filled(0, Page, 1);
        var memory = GuestMemory.Create(r);
        using var space = new DmaSpace(memory);
        Assert.True(space.Iotlb.IsPassThrough);
        Assert.Same(memory, space.Memory);
        var iotlb = new Iotlb();
        using var withIotlb = new DmaSpace(memory, iotlb);
        Assert.Same(iotlb, withIotlb.Iotlb);
        Assert.Throws<ArgumentNullException>(() => new DmaSpace(null!));
        Assert.Throws<ArgumentNullException>(() => space.SetMemory(null!));
    }

    [Fact]
    public void LeaseBeforeUnmap_StillReadsOldMapping_NewLeaseDoesNot()
    {
        using var r = Filled(0x10000, Page, 0x77);
        using var space = new DmaSpace(GuestMemory.Create(r));
        space.Iotlb.Map(Iova(0x1000), Page, Gpa(0x10000), AccessPermission.ReadWrite);

        using (var old = space.Acquire())
        {
            Assert.Equal(IotlbResult.Ok, space.Iotlb.Unmap(Iova(0x1000), Page));
            Assert.Equal(0x77, ReadByte(old.View, 0x1000));
            Assert.True(old.View.TryWrite(Iova(0x1000), [0x78]));

            using var fresh = space.Acquire();
            Assert.NotSame(old.View, fresh.View);
            Assert.False(fresh.View.TryRead(Iova(0x1000), new byte[1]));
        }
        Assert.Equal(0x78, Peek(r, 0, 1)[0]);
    }

    [Fact]
    public void NewLease_SeesMapAndSetMap()
    {
        using var a = Filled(0x10000, Page, 0xaa);
        using var b = Filled(0x20000, Page, 0xbb);
        using var space = new DmaSpace(GuestMemory.Create(a, b));
        using (var pt = space.Acquire()) Assert.Equal(0xaa, ReadByte(pt.View, 0x10000));

        space.Iotlb.SetMap([new IotlbEntry(Iova(0), Iova(Page - 1), Gpa(0x20000), AccessPermission.Read)]);
        using (var l = space.Acquire())
        {
            Assert.Equal(0xbb, ReadByte(l.View, 0));
            Assert.False(l.View.TryRead(Iova(0x10000), new byte[1]));
        }

        space.Iotlb.ResetToPassThrough();
        using (var l = space.Acquire())
        {
            Assert.Equal(0xaa, ReadByte(l.View, 0x10000));
            Assert.False(l.View.TryRead(Iova(0), new byte[1]));
        }
    }

    [Fact]
    public void FailedIotlbUpdate_DoesNotPublish()
    {
        using var r = Filled(0, Page, 0);
        using var space = new DmaSpace(GuestMemory.Create(r));
        space.Iotlb.Map(Iova(0), Page, Gpa(0), AccessPermission.Read);
        using var before = space.Acquire();
        Assert.Equal(IotlbResult.Overlap, space.Iotlb.Map(Iova(0), 1, Gpa(0), AccessPermission.Read));
        using var after = space.Acquire();
        Assert.Same(before.View, after.View);
    }

    [Fact]
    public void LeaseBeforeSetMemory_StillReadsOldRegion_NewLeaseSeesNewOne()
    {
        using var oldRegion = Filled(0x10000, Page, 0x01);
        using var newRegion = Filled(0x10000, Page, 0x02);
        using var space = new DmaSpace(GuestMemory.Create(oldRegion));
        using var before = space.Acquire();

        var next = GuestMemory.Create(newRegion);
        space.SetMemory(next);
        Assert.Same(next, space.Memory);

        Assert.Equal(0x01, ReadByte(before.View, 0x10000));
        using var after = space.Acquire();
        Assert.Equal(0x02, ReadByte(after.View, 0x10000));
    }

    [Fact]
    public void RegionDisposedWhileLeased_StaysMappedUntilTheLeaseEnds()
    {
        var r = Filled(0x10000, Page, 0x3c, shared: true);
        using var space = new DmaSpace(GuestMemory.Create(r));
        var lease = space.Acquire();

        // Remove the region from the space and dispose it, as a vhost-user SET_MEM_TABLE would.
        space.SetMemory(GuestMemory.Empty);
        r.Dispose();
        Assert.False(r.Mapping.IsClosed);
        Assert.True(r.Descriptor!.IsClosed); // only the mapping is pinned, not the fd

        Assert.Equal(0x3c, ReadByte(lease.View, 0x10000));
        Assert.True(lease.View.TryWrite(Iova(0x10000), [0x3d]));
        Assert.Equal(0x3d, ReadByte(lease.View, 0x10000));

        lease.Dispose();
        Assert.True(r.Mapping.IsClosed); // last reference gone: unmapped
    }

    [Fact]
    public void RegionDisposedWhileStillInTheSpace_StaysMappedUntilRemoved()
    {
        var r = Filled(0x10000, Page, 0x3c);
        using var space = new DmaSpace(GuestMemory.Create(r));
        r.Dispose();
        Assert.False(r.Mapping.IsClosed); // the space's current snapshot pins it
        using (var l = space.Acquire()) Assert.Equal(0x3c, ReadByte(l.View, 0x10000));
        space.SetMemory(GuestMemory.Empty);
        Assert.True(r.Mapping.IsClosed);
    }

    [Fact]
    public void ManyLeasesOnOneSnapshot_UnmapAfterTheLast()
    {
        var r = Filled(0x10000, Page, 1);
        var space = new DmaSpace(GuestMemory.Create(r));
        var leases = Enumerable.Range(0, 5).Select(_ => space.Acquire()).ToArray();
        Assert.All(leases, l => Assert.Same(leases[0].View, l.View));
        space.Dispose();
        r.Dispose();
        for (int i = 0; i < leases.Length; i++)
        {
            Assert.False(r.Mapping.IsClosed);
            Assert.Equal(1, ReadByte(leases[i].View, 0x10000));
            leases[i].Dispose();
        }
        Assert.True(r.Mapping.IsClosed);
    }

    [Fact]
    public void Dispose_ThenAcquire_Throws()
    {
        using var r = Filled(0, Page, 0);
        var space = new DmaSpace(GuestMemory.Create(r));
        space.Dispose();
        Assert.Throws<ObjectDisposedException>(() => space.Acquire());
        space.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => space.Acquire());
    }

    [Fact]
    public void Dispose_UnsubscribesFromTheIotlb()
    {
        using var r = Filled(0, Page, 0);
        var iotlb = new Iotlb();
        var space = new DmaSpace(GuestMemory.Create(r), iotlb);
        space.Dispose();
        Assert.Equal(IotlbResult.Ok, iotlb.Map(Iova(0), Page, Gpa(0), AccessPermission.Read)); // no rebuild, no throw
        space.SetMemory(GuestMemory.Empty); // after dispose: accepted and dropped
        Assert.Throws<ObjectDisposedException>(() => space.Acquire());
    }

    [Fact]
    public void Dispose_ReleasesTheSpacesPin()
    {
        var r = Filled(0, Page, 0);
        var space = new DmaSpace(GuestMemory.Create(r));
        r.Dispose();
        Assert.False(r.Mapping.IsClosed);
        space.Dispose();
        Assert.True(r.Mapping.IsClosed);
    }

    [Fact]
    public void DefaultLease_DisposeIsHarmless()
    {
        var lease = default(DmaLease);
        Assert.Null(lease.View);
        lease.Dispose();
    }

    [Fact]
    public void SharedIotlb_UpdatesEverySpace()
    {
        using var r = Filled(0x10000, Page, 0x19);
        var iotlb = new Iotlb();
        using var s1 = new DmaSpace(GuestMemory.Create(r), iotlb);
        using var s2 = new DmaSpace(GuestMemory.Create(r), iotlb);
        iotlb.Map(Iova(0), Page, Gpa(0x10000), AccessPermission.Read);
        using var l1 = s1.Acquire();
        using var l2 = s2.Acquire();
        Assert.Equal(0x19, ReadByte(l1.View, 0));
        Assert.Equal(0x19, ReadByte(l2.View, 0));
    }

    [Fact]
    public void ConstructionOverADisposedRegion_Throws_AndLeavesTheIotlbUsable()
    {
        var r = Filled(0, Page, 0);
        r.Dispose();
        var iotlb = new Iotlb();
        Assert.Throws<ObjectDisposedException>(() => new DmaSpace(GuestMemory.Create(r), iotlb));
        Assert.Equal(IotlbResult.Ok, iotlb.Map(Iova(0), Page, Gpa(0), AccessPermission.Read));
    }
}
