using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>
/// A mmap(2)ed range, unmapped when the last reference is released (SafeHandle reference counting):
/// readers that called DangerousAddRef keep the pages mapped even after Dispose.
/// </summary>
public sealed class MemoryMapping : SafeHandle
{
    private MemoryMapping(nint address, long length) : base(invalidHandleValue: 0, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    /// <summary>Mapped length in bytes.</summary>
    public long Length { get; }

    /// <summary>Start of the mapping in this process (only valid while a reference is held).</summary>
    public nint Address => handle;

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Maps private anonymous memory, reserved lazily (MAP_NORESERVE: pages cost nothing until touched).</summary>
    public static MemoryMapping Anonymous(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        nint p = Libc.Mmap(0, (nuint)length, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        return p == Libc.MAP_FAILED ? throw PlatformException.FromLastError("mmap") : new MemoryMapping(p, length);
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/>, shared, read-write or read-only.</summary>
    public static MemoryMapping Shared(FileDescriptor fd, long offset, long length, bool writable = true)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            int prot = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);
            nint p = Libc.Mmap(0, (nuint)length, prot, Libc.MAP_SHARED, fd.Value, offset);
            return p == Libc.MAP_FAILED ? throw PlatformException.FromLastError("mmap") : new MemoryMapping(p, length);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    /// <summary>Gives the pages of a private anonymous range back to the kernel (they read as zero afterwards).</summary>
    public void DiscardPages(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Length - length) throw new ArgumentOutOfRangeException(nameof(offset));
        if (Libc.Madvise(handle + (nint)offset, (nuint)length, Libc.MADV_DONTNEED) != 0)
            throw PlatformException.FromLastError("madvise");
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => Libc.Munmap(handle, (nuint)Length) == 0;
}
