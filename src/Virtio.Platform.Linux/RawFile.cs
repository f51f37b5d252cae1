using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>Positional I/O on a file descriptor with the calls .NET's RandomAccess lacks (fdatasync, fallocate).</summary>
public static unsafe class RawFile
{
    /// <summary>fdatasync(2): returns once written data is durable.</summary>
    public static void DataSync(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (Libc.FDataSync((int)file.DangerousGetHandle()) != 0) throw PlatformException.FromLastError("fdatasync");
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    /// <summary>Punches a hole (discard) or zeroes a range, keeping the file size. Returns false if the file system does not support it.</summary>
    public static bool TryDeallocate(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long length, bool zeroRangeOnly)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int mode = zeroRangeOnly ? Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE : Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE;
            return Libc.FAllocate((int)file.DangerousGetHandle(), mode, offset, length) == 0;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }
}
