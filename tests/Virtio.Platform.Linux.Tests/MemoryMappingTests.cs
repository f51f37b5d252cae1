using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary>memfd_create + mmap: shared mappings of one file see each other's writes; anonymous mappings; lifetime.</summary>
public class MemoryMappingTests
{
    private const int Page = 4096;

    [Fact]
    public void MemFd_TwoSharedMappings_SeeEachOthersWrites()
    {
        using var fd = MemFd.Create("uvdpa-test", 4 * Page);
        using var a = MemoryMapping.Shared(fd, 0, 4 * Page);
        using var b = MemoryMapping.Shared(fd, 0, 4 * Page);
        Assert.NotEqual(a.Address, b.Address);
        Assert.Equal(4 * Page, a.Length);

        Marshal.WriteInt64(a.Address, 100, 0x1122334455667788);
        Assert.Equal(0x1122334455667788, Marshal.ReadInt64(b.Address, 100));

        Marshal.WriteByte(b.Address, 4 * Page - 1, 0x5a);
        Assert.Equal(0x5a, Marshal.ReadByte(a.Address, 4 * Page - 1));
    }

    [Fact]
    public void MemFd_MappingAtOffset_SeesTheSamePages()
    {
        using var fd = MemFd.Create("uvdpa-test", 4 * Page);
        using var whole = MemoryMapping.Shared(fd, 0, 4 * Page);
        using var tail = MemoryMapping.Shared(fd, 2 * Page, 2 * Page);
        Marshal.WriteInt32(whole.Address, 2 * Page + 8, 0x0badf00d);
        Assert.Equal(0x0badf00d, Marshal.ReadInt32(tail.Address, 8));
    }

    [Fact]
    public void MemFd_StartsZeroFilled()
    {
        using var fd = MemFd.Create("uvdpa-test", 2 * Page);
        using var m = MemoryMapping.Shared(fd, 0, 2 * Page);
        var buf = new byte[2 * Page];
        Marshal.Copy(m.Address, buf, 0, buf.Length);
        Assert.All(buf, b => Assert.Equal(0, b));
    }

    [Fact]
    public void ReadOnlySharedMapping_SeesWritesThroughAWritableOne()
    {
        using var fd = MemFd.Create("uvdpa-test", Page);
        using var rw = MemoryMapping.Shared(fd, 0, Page);
        using var ro = MemoryMapping.Shared(fd, 0, Page, writable: false);
        Marshal.WriteInt16(rw.Address, 10, 0x7777);
        Assert.Equal(0x7777, Marshal.ReadInt16(ro.Address, 10));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void MemFd_RejectsNonPositiveSize(long size)
        => Assert.Throws<ArgumentOutOfRangeException>(() => MemFd.Create("uvdpa-test", size));

    [Fact]
    public void Shared_RejectsBadArguments()
    {
        using var fd = MemFd.Create("uvdpa-test", Page);
        Assert.Throws<ArgumentNullException>(() => MemoryMapping.Shared(null!, 0, Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryMapping.Shared(fd, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryMapping.Shared(fd, -Page, Page));
    }

    [Fact]
    public void Shared_UnalignedOffset_ThrowsPlatformExceptionWithEinval()
    {
        using var fd = MemFd.Create("uvdpa-test", 2 * Page);
        var e = Assert.Throws<PlatformException>(() => MemoryMapping.Shared(fd, 1, Page));
        Assert.Equal("mmap", e.Call);
        Assert.Equal(22, e.Errno); // EINVAL
    }

    [Fact]
    public void Shared_OnDisposedDescriptor_Throws()
    {
        var fd = MemFd.Create("uvdpa-test", Page);
        fd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => MemoryMapping.Shared(fd, 0, Page));
    }

    [Fact]
    public void Anonymous_IsZeroedAndWritable()
    {
        using var m = MemoryMapping.Anonymous(3 * Page);
        Assert.NotEqual(0, m.Address);
        Assert.Equal(3 * Page, m.Length);
        Assert.Equal(0, Marshal.ReadInt64(m.Address, Page));
        Marshal.WriteInt64(m.Address, Page, -1);
        Assert.Equal(-1, Marshal.ReadInt64(m.Address, Page));
    }

    [Fact]
    public void Anonymous_IsPrivate_TwoMappingsAreIndependent()
    {
        using var a = MemoryMapping.Anonymous(Page);
        using var b = MemoryMapping.Anonymous(Page);
        Marshal.WriteByte(a.Address, 0, 1);
        Assert.Equal(0, Marshal.ReadByte(b.Address, 0));
    }

    [Fact]
    public void Anonymous_LargeNoReserveMapping_IsCheapUntilTouched()
    {
        // 1 GiB of address space with MAP_NORESERVE: only the touched page is committed.
        using var m = MemoryMapping.Anonymous(1L << 30);
        Marshal.WriteByte(m.Address, (1 << 30) - 1, 9);
        Assert.Equal(9, Marshal.ReadByte(m.Address, (1 << 30) - 1));
        Assert.Equal(0, Marshal.ReadByte(m.Address, 1 << 29));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    public void Anonymous_RejectsNonPositiveLength(long length)
        => Assert.Throws<ArgumentOutOfRangeException>(() => MemoryMapping.Anonymous(length));

    [Fact]
    public void DiscardPages_ZeroesThePrivatePages()
    {
        using var m = MemoryMapping.Anonymous(3 * Page);
        for (int i = 0; i < 3; i++) Marshal.WriteInt32(m.Address, i * Page + 4, 0x11 * (i + 1));
        m.DiscardPages(Page, Page);
        Assert.Equal(0x11, Marshal.ReadInt32(m.Address, 4));
        Assert.Equal(0, Marshal.ReadInt32(m.Address, Page + 4));
        Assert.Equal(0x33, Marshal.ReadInt32(m.Address, 2 * Page + 4));
    }

    [Theory]
    [InlineData(-1, 4096)]
    [InlineData(0, -1)]
    [InlineData(4096, 3 * 4096)]
    [InlineData(long.MaxValue, 4096)]
    [InlineData(4096, long.MaxValue)]
    public void DiscardPages_RejectsOutOfRange(long offset, long length)
    {
        using var m = MemoryMapping.Anonymous(3 * Page);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.DiscardPages(offset, length));
    }

    [Fact]
    public void DiscardPages_UnalignedOffset_ThrowsPlatformException()
    {
        using var m = MemoryMapping.Anonymous(2 * Page);
        var e = Assert.Throws<PlatformException>(() => m.DiscardPages(1, Page));
        Assert.Equal("madvise", e.Call);
        Assert.Equal(22, e.Errno);
    }

    [Fact]
    public void Dispose_WithReferenceHeld_DefersUnmapUntilRelease()
    {
        var m = MemoryMapping.Anonymous(Page);
        bool added = false;
        m.DangerousAddRef(ref added);
        Assert.True(added);
        m.Dispose();
        Assert.False(m.IsClosed);
        Marshal.WriteByte(m.Address, 0, 42); // still mapped
        Assert.Equal(42, Marshal.ReadByte(m.Address, 0));
        m.DangerousRelease();
        Assert.True(m.IsClosed);
    }

    [Fact]
    public void Dispose_WithoutReferences_ClosesAtOnce()
    {
        var m = MemoryMapping.Anonymous(Page);
        m.Dispose();
        Assert.True(m.IsClosed);
        m.Dispose(); // idempotent
    }
}
