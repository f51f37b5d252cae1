using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Platform.Linux.Interop;

/// <summary>
/// AF_UNIX SOCK_STREAM calls for vhost-user: sendmsg/recvmsg with SCM_RIGHTS ancillary data (which
/// <see cref="System.Net.Sockets.Socket"/> cannot carry), plus poll(2) so blocking waits can be cancelled.
/// Layouts are the LP64 (x86_64, aarch64) ones.
/// </summary>
internal static unsafe partial class Libc
{
    internal const int SOCK_STREAM = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_CTRUNC = 0x8;
    internal const int SHUT_WR = 1;
    internal const int SHUT_RDWR = 2;
    internal const short POLLIN = 0x1;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;
    internal const short POLLNVAL = 0x20;
    internal const short POLLRDHUP = 0x2000;
    internal const int SunPathLength = 108;   // sizeof(sockaddr_un.sun_path), including the NUL
    internal const int SockaddrUnSize = 110;  // sa_family_t + sun_path
    internal const int CmsgHeaderSize = 16;   // struct cmsghdr on LP64: size_t len; int level; int type

    /// <summary>struct msghdr (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public void* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(int fd, int backlog);

    [LibraryImport(Lib, EntryPoint = "accept4", SetLastError = true)]
    internal static partial int Accept4(int fd, void* addr, void* addrlen, int flags);

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    internal static partial int SocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(int fd, int how);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);
}

internal static partial class Libc
{
    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
