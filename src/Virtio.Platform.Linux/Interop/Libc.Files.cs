using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Interop;

/// <summary>
/// File-system calls .NET has no API for: chown (socket group), statx (is the path a socket; owner and mode), and
/// fsync of a directory (.NET refuses to open directories). Classic blittable DllImports.
/// </summary>
internal static partial class Libc
{
    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const uint STATX_BASIC_STATS = 0x7ff;
    internal const int O_RDONLY = 0;
        internal const int StatxBufferSize = 256;  // sizeof(struct statx)
    internal const int StatxUidOffset = 20;    // __u32 stx_uid
    internal const int StatxGidOffset = 24;    // __u32 stx_gid
    internal const int StatxModeOffset = 28;   // __u16 stx_mode
    internal const int StatxSizeOffset = 40;   // __u64 stx_size
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const int S_IFMT = 0xf000;
    internal const int S_IFSOCK = 0xc000;

    [DllImport(Lib, EntryPoint = "chown", SetLastError = true)]
    internal static extern int Chown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);

    // struct statx has the same layout on every architecture, unlike struct stat.
    [DllImport(Lib, EntryPoint = "statx", SetLastError = true)]
    internal static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

    [DllImport(Lib, EntryPoint = "open", SetLastError = true)]
    internal static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    internal static extern int FSync(int fd);
}
