using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>What statx says about a path (not following a final symlink).</summary>
/// <param name="Mode">st_mode: type and permission bits.</param>
/// <param name="UserId">Owner uid.</param>
/// <param name="GroupId">Owner gid.</param>
public readonly record struct UnixFileStatus(int Mode, uint UserId, uint GroupId)
{
    /// <summary>True for a Unix domain socket.</summary>
    public bool IsSocket => (Mode & Libc.S_IFMT) == Libc.S_IFSOCK;

    /// <summary>The permission bits.</summary>
    public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xfff);
}

/// <summary>File-system operations .NET lacks: lstat-like status, chown, directory fsync.</summary>
public static class UnixFile
{
    /// <summary>statx(AT_SYMLINK_NOFOLLOW). False when the path does not exist; throws for other errors.</summary>
    public static bool TryGetStatus(string path, out UnixFileStatus status)
    {
        var buffer = new byte[Libc.StatxBufferSize];
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            status = default;
            if (errno is 2 /* ENOENT */ or 20 /* ENOTDIR */) return false;
            throw Failure("statx", path, errno);
        }
        status = new UnixFileStatus(
            MemoryMarshal.Read<ushort>(buffer.AsSpan(Libc.StatxModeOffset)), // native struct: host byte order
            MemoryMarshal.Read<uint>(buffer.AsSpan(Libc.StatxUidOffset)),
            MemoryMarshal.Read<uint>(buffer.AsSpan(Libc.StatxGidOffset)));
        return true;
    }

    /// <summary>
    /// statx(fd, "", AT_EMPTY_PATH) stx_size: the size of the file behind <paramref name="fd"/> (a memfd or file from a
    /// peer), so a mapping can be checked to end inside it (touching a shared mapping past the end is SIGBUS).
    /// </summary>
    public static long GetSize(FileDescriptor fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var buffer = new byte[Libc.StatxBufferSize];
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            if (Libc.Statx(fd.Value, "", Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, buffer) != 0)
                throw PlatformException.FromLastError("statx");
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
        return (long)Math.Min(MemoryMarshal.Read<ulong>(buffer.AsSpan(Libc.StatxSizeOffset)), long.MaxValue);
    }

    /// <summary>chown(path, -1, gid): changes only the group.</summary>
    public static void ChangeGroup(string path, uint groupId)
    {
        if (Libc.Chown(path, uint.MaxValue, groupId) != 0) throw Failure("chown", path, Marshal.GetLastPInvokeError());
    }

    /// <summary>fsync of a directory, so a rename inside it is durable.</summary>
    public static void SyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0) throw Failure("open", directory, Marshal.GetLastPInvokeError());
        try
        {
            if (Libc.FSync(fd) != 0) throw Failure("fsync", directory, Marshal.GetLastPInvokeError());
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private static IOException Failure(string call, string path, int errno)
        => new($"{call}({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
}
