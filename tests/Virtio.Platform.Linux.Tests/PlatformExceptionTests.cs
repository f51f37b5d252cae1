namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary>Failed system calls carry the errno and the call's name.</summary>
public class PlatformExceptionTests
{
    [Fact]
    public void CarriesErrnoCallAndText()
    {
        var e = new PlatformException("open", 2);
        Assert.Equal(2, e.Errno);
        Assert.Equal("open", e.Call);
        Assert.Equal(2, e.HResult);
        Assert.Contains("open", e.Message, StringComparison.Ordinal);
        Assert.Contains("errno 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("No such file", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(e);
    }

    [Fact]
    public void FromARealFailure_HasTheKernelErrno()
    {
        // fdatasync on an eventfd is EINVAL.
        using var efd = EventFd.Create();
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(efd.Descriptor.Value, ownsHandle: false);
        var e = Assert.Throws<PlatformException>(() => RawFile.DataSync(handle));
        Assert.Equal("fdatasync", e.Call);
        Assert.Equal(22, e.Errno);
    }
}
