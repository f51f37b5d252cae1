using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>An owned Linux file descriptor, closed when released.</summary>
public sealed class FileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    /// <summary>The raw descriptor number (valid while this object is alive and not disposed).</summary>
    public int Value => (int)handle;

    /// <inheritdoc />
    // 0 is a valid descriptor on Linux (e.g. when stdin was closed), so only negative values are invalid.
    public override bool IsInvalid => (int)handle < 0;

    /// <summary>Duplicates the descriptor (dup(2)).</summary>
    public FileDescriptor Duplicate()
    {
        int fd = Libc.Dup(Value);
        return fd < 0 ? throw PlatformException.FromLastError("dup") : new FileDescriptor(fd);
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
