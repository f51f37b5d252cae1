using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Interop;

/// <summary>Socket calls that <see cref="System.Net.Sockets.Socket"/> cannot make itself (it refuses AF_NETLINK).</summary>
internal static partial class Libc
{
    internal const int AF_UNIX = 1;
    internal const int AF_NETLINK = 16;
    internal const int SOCK_RAW = 3;
    internal const int SOCK_SEQPACKET = 5;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;
    internal const int SOL_NETLINK = 270;

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);
}
