using System.Net.Sockets;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>
/// Safe wrappers for the Linux socket features the management plane needs: AF_NETLINK sockets (which
/// <see cref="Socket"/> cannot create), netlink socket options, and SO_PEERCRED on Unix sockets.
/// </summary>
public static class LinuxSockets
{
    /// <summary>
    /// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected stream sockets as <see cref="Socket"/>s
    /// (async I/O through the runtime's epoll engine). One end can be handed to the kernel by descriptor number
    /// (NBD's NBD_SOCK_FD) while the other is served in process.
    /// </summary>
    public static unsafe (Socket First, Socket Second) CreateStreamPair()
    {
        int* sv = stackalloc int[2];
        // SAFETY: sv points to two ints on this frame; socketpair writes exactly two descriptors there on success.
        if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv) != 0) throw PlatformException.FromLastError("socketpair");
        int a = sv[0], b = sv[1];
        Socket? first = null;
        try
        {
            first = new Socket(new SafeSocketHandle(a, ownsHandle: true));
            a = -1;
            var second = new Socket(new SafeSocketHandle(b, ownsHandle: true));
            return (first, second);
        }
        catch
        {
            if (first is not null) first.Dispose();
            if (a >= 0) Libc.Close(a);
            Libc.Close(b);
            throw;
        }
    }

    /// <summary>SOL_NETLINK (270), the level of the netlink socket options.</summary>
    public const int SolNetlink = Libc.SOL_NETLINK;

    /// <summary>NETLINK_CAP_ACK (10): error replies echo only the 16-byte request header (NLM_F_CAPPED).</summary>
    public const int NetlinkCapAck = 10;

    /// <summary>NETLINK_EXT_ACK (11): error and warning replies carry extended-ack TLVs (NLM_F_ACK_TLVS).</summary>
    public const int NetlinkExtAck = 11;

    /// <summary>NETLINK_GENERIC (16), the generic netlink protocol.</summary>
    public const int NetlinkGeneric = 16;

    /// <summary>
    /// Opens socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, <paramref name="protocol"/>) and wraps it in a
    /// <see cref="Socket"/> (AddressFamily.Unknown). The socket is unbound: the kernel auto-binds a port id on
    /// the first send, and an unconnected netlink socket sends to the kernel (port 0) by default.
    /// </summary>
    public static Socket OpenNetlink(int protocol)
    {
        int fd = Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        if (fd < 0) throw PlatformException.FromLastError("socket(AF_NETLINK)");
        try
        {
            return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>setsockopt(SOL_NETLINK, <paramref name="option"/>, int <paramref name="value"/>).</summary>
    public static void SetNetlinkOption(Socket socket, int option, int value)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> v = stackalloc byte[4];
        System.Runtime.InteropServices.MemoryMarshal.Write(v, in value); // socket options are host-endian ints
        socket.SetRawSocketOption(Libc.SOL_NETLINK, option, v);
    }

    /// <summary>The credentials of the peer of a connected AF_UNIX socket (getsockopt SO_PEERCRED, struct ucred).</summary>
    public static PeerCredentials GetPeerCredentials(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> ucred = stackalloc byte[12];
        int n = socket.GetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_PEERCRED, ucred);
        if (n < 12) throw new PlatformException("getsockopt(SO_PEERCRED)", 22 /* EINVAL */);
        return new PeerCredentials(
            System.Runtime.InteropServices.MemoryMarshal.Read<int>(ucred),
            System.Runtime.InteropServices.MemoryMarshal.Read<uint>(ucred[4..]),
            System.Runtime.InteropServices.MemoryMarshal.Read<uint>(ucred[8..]));
    }
}

/// <summary>struct ucred: the process, user and group of a Unix socket peer.</summary>
/// <param name="ProcessId">The peer's pid (as seen from our pid namespace; 0 if not mapped).</param>
/// <param name="UserId">The peer's effective uid at connect time.</param>
/// <param name="GroupId">The peer's effective gid at connect time.</param>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId);
