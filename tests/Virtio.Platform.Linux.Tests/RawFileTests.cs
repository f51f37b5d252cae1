using Microsoft.Win32.SafeHandles;

namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary>fdatasync and fallocate(PUNCH_HOLE / ZERO_RANGE) on real files.</summary>
public sealed class RawFileTests : IDisposable
{
    private const int Block = 4096;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"uvdpa-rawfile-{Guid.NewGuid():N}");

    public void Dispose() => File.Delete(_path);

    private SafeFileHandle CreateFilled(int blocks, byte fill)
    {
        var h = File.OpenHandle(_path, FileMode.CreateNew, FileAccess.ReadWrite);
        var data = new byte[blocks * Block];
        Array.Fill(data, fill);
        RandomAccess.Write(h, data, 0);
        return h;
    }

    [Fact]
    public void DataSync_OnTempFile_Succeeds()
    {
        using var h = CreateFilled(2, 0x5a);
        RawFile.DataSync(h);
        var back = new byte[2 * Block];
        Assert.Equal(back.Length, RandomAccess.Read(h, back, 0));
        Assert.All(back, b => Assert.Equal(0x5a, b));
    }

    [Fact]
    public void DataSync_RejectsNullAndClosedHandles()
    {
        Assert.Throws<ArgumentNullException>(() => RawFile.DataSync(null!));
        var h = CreateFilled(1, 0);
        h.Dispose();
        Assert.Throws<ObjectDisposedException>(() => RawFile.DataSync(h));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryDeallocate_MiddleBlock_ReadsZerosAndKeepsSize(bool zeroRangeOnly)
    {
        using var h = CreateFilled(3, 0xab);
        bool ok = RawFile.TryDeallocate(h, Block, Block, zeroRangeOnly);
        var back = new byte[3 * Block];
        Assert.Equal(back.Length, RandomAccess.Read(h, back, 0));
        Assert.Equal(3 * Block, RandomAccess.GetLength(h));
        if (!ok)
        {
            // The file system refused (EOPNOTSUPP): the data must be untouched.
            Assert.All(back, b => Assert.Equal(0xab, b));
            return;
        }
        Assert.All(back.AsSpan(0, Block).ToArray(), b => Assert.Equal(0xab, b));
        Assert.All(back.AsSpan(Block, Block).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(2 * Block, Block).ToArray(), b => Assert.Equal(0xab, b));
    }

    [Fact]
    public void TryDeallocate_OnMemFd_PunchHoleReadsZeros()
    {
        // tmpfs (memfd) supports hole punching: what a blk device backed by memory would use for DISCARD.
        using var fd = MemFd.Create("uvdpa-test", 2 * Block);
        using var h = new SafeFileHandle(fd.Value, ownsHandle: false);
        var data = new byte[2 * Block];
        Array.Fill(data, (byte)0xcd);
        RandomAccess.Write(h, data, 0);
        bool ok = RawFile.TryDeallocate(h, 0, Block, zeroRangeOnly: false);
        var back = new byte[2 * Block];
        RandomAccess.Read(h, back, 0);
        if (ok) Assert.All(back.AsSpan(0, Block).ToArray(), b => Assert.Equal(0, b));
        else Assert.All(back.AsSpan(0, Block).ToArray(), b => Assert.Equal(0xcd, b));
        Assert.All(back.AsSpan(Block, Block).ToArray(), b => Assert.Equal(0xcd, b));
    }

    [Fact]
    public void TryDeallocate_InvalidRange_ReturnsFalse()
    {
        using var h = CreateFilled(1, 1);
        Assert.False(RawFile.TryDeallocate(h, -1, Block, zeroRangeOnly: false));
        Assert.False(RawFile.TryDeallocate(h, 0, 0, zeroRangeOnly: false));
    }

    [Fact]
    public void TryDeallocate_RejectsNull()
        => Assert.Throws<ArgumentNullException>(() => RawFile.TryDeallocate(null!, 0, Block, false));
}
