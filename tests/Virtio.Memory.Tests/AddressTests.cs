namespace Uvdpa.Virtio.Memory.Tests;

/// <summary>Typed addresses: checked addition and formatting.</summary>
public class AddressTests
{
    [Theory]
    [InlineData(0UL, 0UL, 0UL, true)]
    [InlineData(0x1000UL, 0x10UL, 0x1010UL, true)]
    [InlineData(ulong.MaxValue - 1, 1UL, ulong.MaxValue, true)]
    [InlineData(ulong.MaxValue, 0UL, ulong.MaxValue, true)]
    [InlineData(ulong.MaxValue, 1UL, 0UL, false)]
    [InlineData(1UL, ulong.MaxValue, 0UL, false)]
    [InlineData(0x8000_0000_0000_0000UL, 0x8000_0000_0000_0000UL, 0UL, false)]
    public void GuestAddress_TryAdd(ulong start, ulong offset, ulong expected, bool ok)
    {
        Assert.Equal(ok, new GuestAddress(start).TryAdd(offset, out var r));
        if (ok) Assert.Equal(new GuestAddress(expected), r);
    }

    [Theory]
    [InlineData(0UL, 5UL, 5UL, true)]
    [InlineData(ulong.MaxValue - 4, 4UL, ulong.MaxValue, true)]
    [InlineData(ulong.MaxValue - 4, 5UL, 0UL, false)]
    [InlineData(ulong.MaxValue, ulong.MaxValue, 0UL, false)]
    public void Iova_TryAdd(ulong start, ulong offset, ulong expected, bool ok)
    {
        Assert.Equal(ok, new Iova(start).TryAdd(offset, out var r));
        if (ok) Assert.Equal(new Iova(expected), r);
    }

    [Fact]
    public void ToString_NamesTheAddressSpace()
    {
        Assert.Equal("gpa:0x1000", new GuestAddress(0x1000).ToString());
        Assert.Equal("iova:0xffffffffffffffff", new Iova(ulong.MaxValue).ToString());
        Assert.Equal("fva:0x7f0000000000", new FrontendAddress(0x7f0000000000).ToString());
    }

    [Fact]
    public void AddressTypes_CompareByValue()
    {
        Assert.Equal(new GuestAddress(7), new GuestAddress(7));
        Assert.NotEqual(new Iova(7), new Iova(8));
        Assert.Equal(new FrontendAddress(1), new FrontendAddress(1));
    }

    [Fact]
    public void AccessPermission_MatchesVhostAccessValues()
    {
        Assert.Equal(0, (int)AccessPermission.None);
        Assert.Equal(1, (int)AccessPermission.Read);      // VHOST_ACCESS_RO
        Assert.Equal(2, (int)AccessPermission.Write);     // VHOST_ACCESS_WO
        Assert.Equal(3, (int)AccessPermission.ReadWrite); // VHOST_ACCESS_RW
        Assert.Equal(AccessPermission.ReadWrite, AccessPermission.Read | AccessPermission.Write);
    }
}
