using System.Runtime.InteropServices;
using System.Text;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>A listening AF_UNIX SOCK_STREAM socket whose blocking <see cref="Accept"/> can be cancelled with <see cref="Stop"/>.</summary>
public sealed unsafe class UnixStreamListener : IDisposable
{
    /// <summary>Longest path that fits sockaddr_un.sun_path (108 bytes including the terminating NUL).</summary>
    public const int MaxPathBytes = Libc.SunPathLength - 1;

    private readonly FileDescriptor _fd;
    private readonly EventFd _stop;

    private UnixStreamListener(FileDescriptor fd, EventFd stop, string path)
    {
        _fd = fd;
        _stop = stop;
        Path = path;
    }

    /// <summary>The bound path.</summary>
    public string Path { get; }

    /// <summary>Binds and listens on <paramref name="path"/> (which must not exist).</summary>
    public static UnixStreamListener Bind(string path, int backlog = 16)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fd = UnixStreamSocket.NewSocket();
        EventFd? stop = null;
        try
        {
            Span<byte> addr = stackalloc byte[Libc.SockaddrUnSize];
            uint len = FillAddress(addr, path);
            fixed (byte* a = addr)
            {
                if (Libc.Bind(fd.Value, a, len) != 0) throw PlatformException.FromLastError("bind");
            }
            if (Libc.Listen(fd.Value, backlog) != 0) throw PlatformException.FromLastError("listen");
            stop = EventFd.Create(nonBlocking: true);
            return new UnixStreamListener(fd, stop, path);
        }
        catch
        {
            stop?.Dispose();
            fd.Dispose();
            throw;
        }
    }

    internal static uint FillAddress(Span<byte> addr, string path)
    {
        int n = Encoding.UTF8.GetByteCount(path);
        if (n == 0 || n > MaxPathBytes) throw new PlatformException($"sockaddr_un '{path}'", 36 /* ENAMETOOLONG */);
        addr.Clear();
        MemoryMarshal.Write(addr, (ushort)Libc.AF_UNIX);
        Encoding.UTF8.GetBytes(path, addr[2..]);
        return (uint)(2 + n + 1);
    }

    /// <summary>Waits for the next connection; returns null once <see cref="Stop"/> was called.</summary>
    public UnixStreamSocket? Accept()
    {
        bool added = false, stopAdded = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            _stop.Descriptor.DangerousAddRef(ref stopAdded);
            var fds = stackalloc Libc.PollFd[2];
            while (true)
            {
                fds[0] = new Libc.PollFd { Fd = _fd.Value, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = _stop.Descriptor.Value, Events = Libc.POLLIN };
                int r = Libc.Poll(fds, 2, -1);
                if (r < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
                    throw PlatformException.FromLastError("poll");
                }
                if (fds[1].Revents != 0) return null;
                if ((fds[0].Revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) return null;
                int c = Libc.Accept4(_fd.Value, null, null, Libc.SOCK_CLOEXEC);
                if (c >= 0) return new UnixStreamSocket(new FileDescriptor(c));
                int err = Marshal.GetLastPInvokeError();
                if (err is Libc.EINTR or Libc.EAGAIN or 103 /* ECONNABORTED */) continue;
                throw new PlatformException("accept4", err);
            }
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (stopAdded) _stop.Descriptor.DangerousRelease();
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Makes the current and every later <see cref="Accept"/> return null. Never throws.</summary>
    public void Stop() => _stop.Signal();

    /// <summary>Stops and closes the socket (does not unlink the path).</summary>
    public void Dispose()
    {
        Stop();
        _fd.Dispose();
        _stop.Dispose();
    }
}

/// <summary>Waiting on descriptors (poll(2)).</summary>
public static unsafe class FdPoll
{
    /// <summary>
    /// Blocks until one of <paramref name="first"/> or <paramref name="second"/> is readable (or hung up) and returns
    /// 0 or 1 accordingly (0 wins ties); -1 after <paramref name="timeoutMs"/> (-1 = forever).
    /// </summary>
    public static int WaitReadable(FileDescriptor first, FileDescriptor second, int timeoutMs = -1)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        bool a = false, b = false;
        try
        {
            first.DangerousAddRef(ref a);
            second.DangerousAddRef(ref b);
            var fds = stackalloc Libc.PollFd[2];
            while (true)
            {
                fds[0] = new Libc.PollFd { Fd = first.Value, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = second.Value, Events = Libc.POLLIN };
                int r = Libc.Poll(fds, 2, timeoutMs);
                if (r < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
                    throw PlatformException.FromLastError("poll");
                }
                if (r == 0) return -1;
                return fds[0].Revents != 0 ? 0 : 1;
            }
        }
        finally
        {
            if (b) second.DangerousRelease();
            if (a) first.DangerousRelease();
        }
    }
}
