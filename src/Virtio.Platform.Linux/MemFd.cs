using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>Anonymous shareable memory files (memfd_create(2)).</summary>
public static class MemFd
{
    /// <summary>Creates a memfd of <paramref name="size"/> bytes (zero-filled, sparse).</summary>
    public static FileDescriptor Create(string name, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        int fd = Libc.MemfdCreate(name, Libc.MFD_CLOEXEC);
        if (fd < 0) throw PlatformException.FromLastError("memfd_create");
        var handle = new FileDescriptor(fd);
        if (Libc.FTruncate(fd, size) != 0)
        {
            var e = PlatformException.FromLastError("ftruncate");
            handle.Dispose();
            throw e;
        }
        return handle;
    }
}
