namespace Uvdpa.Virtio.Platform.Linux.Tests;

/// <summary>Owned descriptors: dup, close, and which numbers count as valid.</summary>
public class FileDescriptorTests
{
    [Fact]
    public void Duplicate_IsAnIndependentDescriptorForTheSameFile()
    {
        using var efd = EventFd.Create(nonBlocking: true);
        using var dup = efd.Descriptor.Duplicate();
        Assert.NotEqual(efd.Descriptor.Value, dup.Value);
        using var other = EventFd.FromDescriptor(dup);
        Assert.True(efd.Signal());
        Assert.Equal(1UL, other.Consume());
    }

    [Fact]
    public void Duplicate_SurvivesClosingTheOriginal()
    {
        var a = EventFd.Create(nonBlocking: true);
        var dup = EventFd.FromDescriptor(a.Descriptor.Duplicate());
        a.Dispose();
        Assert.True(a.Descriptor.IsClosed);
        Assert.True(dup.Signal());
        Assert.Equal(1UL, dup.Consume());
        dup.Dispose();
    }

    [Fact]
    public void Duplicate_OfAnInvalidNumber_ThrowsEbadf()
    {
        var bogus = new FileDescriptor(int.MaxValue);
        try
        {
            var e = Assert.Throws<PlatformException>(() => bogus.Duplicate());
            Assert.Equal("dup", e.Call);
            Assert.Equal(9, e.Errno); // EBADF
        }
        finally
        {
            bogus.SetHandleAsInvalid(); // never close a number we do not own
        }
    }

    [Fact]
    public void Zero_IsAValidDescriptor_NegativeIsNot()
    {
        // Regression: fd 0 is a legal descriptor (a process may have closed stdin); it must be closed on release.
        var zero = new FileDescriptor(0);
        try
        {
            Assert.False(zero.IsInvalid);
        }
        finally
        {
            zero.SetHandleAsInvalid(); // do not close the test host's stdin
        }
        using var negative = new FileDescriptor(-1);
        Assert.True(negative.IsInvalid);
    }
}
