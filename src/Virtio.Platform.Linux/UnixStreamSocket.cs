using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>
/// A connected AF_UNIX SOCK_STREAM socket in blocking mode that can pass file descriptors (SCM_RIGHTS), as vhost-user
/// needs. Receiving and sending may run on different threads; <see cref="Shutdown"/> wakes a blocked receiver.
/// </summary>
public sealed unsafe class UnixStreamSocket : IDisposable
{
    /// <summary>Most descriptors accepted in one receive (vhost-user: 8 per message).</summary>
    public const int MaxDescriptors = 8;

    private readonly FileDescriptor _fd;

    internal UnixStreamSocket(FileDescriptor fd) => _fd = fd;

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Connects to the socket at <paramref name="path"/>.</summary>
    public static UnixStreamSocket Connect(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fd = NewSocket();
        try
        {
            Span<byte> addr = stackalloc byte[Libc.SockaddrUnSize];
            uint len = UnixStreamListener.FillAddress(addr, path);
            fixed (byte* a = addr)
            {
                while (Libc.Connect(fd.Value, a, len) != 0)
                {
                    if (Marshal.GetLastPInvokeError() != Libc.EINTR) throw PlatformException.FromLastError("connect");
                }
            }
            return new UnixStreamSocket(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>A connected pair (socketpair(2)).</summary>
    public static (UnixStreamSocket First, UnixStreamSocket Second) CreatePair()
    {
        int* sv = stackalloc int[2];
        if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv) != 0) throw PlatformException.FromLastError("socketpair");
        return (new UnixStreamSocket(new FileDescriptor(sv[0])), new UnixStreamSocket(new FileDescriptor(sv[1])));
    }

    internal static FileDescriptor NewSocket()
    {
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        return fd < 0 ? throw PlatformException.FromLastError("socket(AF_UNIX)") : new FileDescriptor(fd);
    }

    /// <summary>
    /// One recvmsg(2): reads up to <paramref name="buffer"/>.Length bytes and appends every received descriptor to
    /// <paramref name="descriptors"/> (the caller owns them). Returns 0 at end of stream. <paramref name="truncated"/>
    /// is set when the peer sent more descriptors than <see cref="MaxDescriptors"/> (the kernel closed the excess).
    /// </summary>
    public int Receive(Span<byte> buffer, List<FileDescriptor> descriptors, out bool truncated)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        const int controlSize = Libc.CmsgHeaderSize + MaxDescriptors * sizeof(int);
        byte* control = stackalloc byte[controlSize];
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            fixed (byte* data = buffer)
            {
                while (true)
                {
                    var iov = new Libc.IoVec { Base = data, Length = (nuint)buffer.Length };
                    var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };
                    nint n = Libc.RecvMsg(_fd.Value, &msg, Libc.MSG_CMSG_CLOEXEC);
                    if (n < 0)
                    {
                        int err = Marshal.GetLastPInvokeError();
                        if (err == Libc.EINTR) continue;
                        throw new PlatformException("recvmsg", err);
                    }
                    // Collect descriptors even when truncated, or they leak (DPDK 218daf1664).
                    CollectDescriptors(control, msg.ControlLength, descriptors);
                    truncated = (msg.Flags & (Libc.MSG_CTRUNC | Libc.MSG_TRUNC)) != 0;
                    return (int)n;
                }
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    private static void CollectDescriptors(byte* control, nuint length, List<FileDescriptor> descriptors)
    {
        // SAFETY: the kernel wrote at most `length` (≤ controlSize) bytes of cmsghdr records into `control`; every read
        // below is bounds-checked against that length before it happens.
        nuint offset = 0;
        while (offset + Libc.CmsgHeaderSize <= length)
        {
            nuint cmsgLen = *(nuint*)(control + offset);
            int level = *(int*)(control + offset + 8);
            int type = *(int*)(control + offset + 12);
            if (cmsgLen < Libc.CmsgHeaderSize || offset + cmsgLen > length) break;
            if (level == Libc.SOL_SOCKET && type == Libc.SCM_RIGHTS)
            {
                nuint count = (cmsgLen - Libc.CmsgHeaderSize) / sizeof(int);
                int* fds = (int*)(control + offset + Libc.CmsgHeaderSize);
                for (nuint i = 0; i < count; i++) descriptors.Add(new FileDescriptor(fds[i]));
            }
            offset += (cmsgLen + 7) & ~(nuint)7; // CMSG_ALIGN
        }
    }

    /// <summary>
    /// Sends all of <paramref name="data"/> (at least one byte when descriptors are passed); the descriptors travel
    /// with the first byte. Throws <see cref="PlatformException"/> on failure (EPIPE when the peer is gone).
    /// </summary>
    public void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptor> descriptors = default)
    {
        if (descriptors.Length > MaxDescriptors) throw new ArgumentOutOfRangeException(nameof(descriptors), $"at most {MaxDescriptors} descriptors");
        if (descriptors.Length > 0 && data.IsEmpty) throw new ArgumentException("descriptors need at least one data byte", nameof(data));
        const int controlSize = Libc.CmsgHeaderSize + MaxDescriptors * sizeof(int);
        byte* control = stackalloc byte[controlSize];
        var refs = new bool[descriptors.Length];
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            for (int i = 0; i < descriptors.Length; i++) descriptors[i].DangerousAddRef(ref refs[i]);
            fixed (byte* p = data)
            {
                int sent = 0;
                bool first = true;
                while (sent < data.Length || (first && data.Length == 0))
                {
                    var iov = new Libc.IoVec { Base = p + sent, Length = (nuint)(data.Length - sent) };
                    var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
                    if (first && descriptors.Length > 0)
                    {
                        // SAFETY: one cmsghdr of CMSG_LEN(4·n) ≤ controlSize bytes, written inside the stackalloc.
                        nuint cmsgLen = (nuint)(Libc.CmsgHeaderSize + descriptors.Length * sizeof(int));
                        *(nuint*)control = cmsgLen;
                        *(int*)(control + 8) = Libc.SOL_SOCKET;
                        *(int*)(control + 12) = Libc.SCM_RIGHTS;
                        for (int i = 0; i < descriptors.Length; i++) ((int*)(control + Libc.CmsgHeaderSize))[i] = descriptors[i].Value;
                        msg.Control = control;
                        msg.ControlLength = (cmsgLen + 7) & ~(nuint)7;
                    }
                    nint n = Libc.SendMsg(_fd.Value, &msg, Libc.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        int err = Marshal.GetLastPInvokeError();
                        if (err == Libc.EINTR) continue;
                        throw new PlatformException("sendmsg", err);
                    }
                    first = false;
                    sent += (int)n;
                    if (data.Length == 0) break;
                }
            }
        }
        finally
        {
            for (int i = 0; i < refs.Length; i++) if (refs[i]) descriptors[i].DangerousRelease();
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>The peer's credentials (SO_PEERCRED).</summary>
    public PeerCredentials GetPeerCredentials()
    {
        int* ucred = stackalloc int[3];
        uint len = 12;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            if (Libc.GetSockOpt(_fd.Value, Libc.SOL_SOCKET, Libc.SO_PEERCRED, ucred, &len) != 0) throw PlatformException.FromLastError("getsockopt(SO_PEERCRED)");
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
        return new PeerCredentials(ucred[0], (uint)ucred[1], (uint)ucred[2]);
    }

    /// <summary>
    /// True when the peer has closed or shut down its side (poll(2) POLLRDHUP/POLLHUP/POLLERR, without waiting and
    /// without consuming data), or this socket is closed. Never throws.
    /// </summary>
    public bool IsPeerGone()
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var pfd = new Libc.PollFd { Fd = _fd.Value, Events = Libc.POLLRDHUP };
            // SAFETY: pfd is a local struct; poll reads and writes exactly one pollfd through the pointer.
            int r = Libc.Poll(&pfd, 1, 0);
            return r > 0 && (pfd.Revents & (Libc.POLLRDHUP | Libc.POLLHUP | Libc.POLLERR | Libc.POLLNVAL)) != 0;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>shutdown(SHUT_RDWR): a blocked <see cref="Receive"/> returns 0 and the peer sees end of stream. Never throws.</summary>
    public void Shutdown()
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            _ = Libc.Shutdown(_fd.Value, Libc.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>shutdown(SHUT_WR): the peer reads end of stream after what was sent; this side can still receive.</summary>
    public void ShutdownWrite()
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            if (Libc.Shutdown(_fd.Value, Libc.SHUT_WR) != 0) throw PlatformException.FromLastError("shutdown");
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _fd.Dispose();
}
