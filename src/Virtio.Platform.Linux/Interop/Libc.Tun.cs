using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Interop;

/// <summary>
/// TUN/TAP (drivers/net/tun.c, include/uapi/linux/if_tun.h) and the netdevice ioctls (include/uapi/linux/sockios.h)
/// used to configure a TAP interface. Layouts are the LP64 ones.
/// </summary>
internal static unsafe partial class Libc
{
    internal const int O_NONBLOCK = 0x800;
    internal const int AF_INET = 2;
    internal const int SOCK_DGRAM = 2;
    internal const int ARPHRD_ETHER = 1;

    internal const short IFF_TAP = 0x0002;
    internal const short IFF_NO_PI = 0x1000;
    internal const short IFF_TUN_EXCL = unchecked((short)0x8000);

    internal const nuint TUNSETIFF = 0x400454ca;       // _IOW('T', 202, int)
    internal const nuint TUNSETPERSIST = 0x400454cb;   // _IOW('T', 203, int)
    internal const nuint TUNSETCARRIER = 0x400454e2;   // _IOW('T', 226, int)
    internal const nuint SIOCSIFMTU = 0x8922;
    internal const nuint SIOCSIFHWADDR = 0x8924;

    internal const int IfNameSize = 16;                // IFNAMSIZ, including the NUL
    internal const int IfReqSize = 40;                 // sizeof(struct ifreq) on LP64
    internal const int IfReqUnionOffset = 16;          // ifr_flags / ifr_mtu / ifr_hwaddr

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenFile(string path, int flags);

    // ioctl is variadic in C; on the LP64 Linux ABIs a fixed third pointer argument is passed the same way.
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int IoctlInt(int fd, nuint request, nint value);
}
