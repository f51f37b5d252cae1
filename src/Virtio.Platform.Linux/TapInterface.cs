using System.Runtime.InteropServices;
using System.Text;
using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>
/// A TAP network interface (IFF_TAP | IFF_NO_PI) created through /dev/net/tun: whole Ethernet frames are read and
/// written on a non-blocking descriptor. The interface is not persistent, so it disappears when this object is
/// disposed (tun_chr_close → tun_detach → unregister_netdevice). Configuration calls are thread-safe with respect to
/// the data calls; <see cref="TryRead"/> and <see cref="TryWrite"/> may run concurrently on two threads.
/// </summary>
public sealed unsafe class TapInterface : IDisposable
{
    /// <summary>Longest interface name (IFNAMSIZ - 1).</summary>
    public const int MaxNameLength = Libc.IfNameSize - 1;

    private readonly FileDescriptor _fd;

    private TapInterface(FileDescriptor fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    /// <summary>The interface name the kernel assigned.</summary>
    public string Name { get; }

    /// <summary>
    /// True when <paramref name="name"/> is a name the kernel accepts (dev_valid_name): 1..15 bytes, not "." or "..",
    /// no '/', ':' or white space.
    /// </summary>
    public static bool IsValidName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || Encoding.UTF8.GetByteCount(name) > MaxNameLength || name is "." or "..") return false;
        foreach (char c in name)
        {
            if (c == '/' || c == ':' || c == '\0' || char.IsWhiteSpace(c)) return false;
        }
        return true;
    }

    /// <summary>
    /// Creates the TAP interface <paramref name="name"/> (TUNSETIFF with IFF_TUN_EXCL, so an existing interface of that
    /// name is an error, EBUSY) in the calling thread's network namespace. Throws <see cref="ArgumentException"/> for an
    /// invalid name and <see cref="PlatformException"/> when the kernel refuses.
    /// </summary>
    public static TapInterface Create(string name)
    {
        if (!IsValidName(name))
            throw new ArgumentException($"'{name}' is not a valid interface name (1..{MaxNameLength} bytes, no '/', ':' or spaces)", nameof(name));
        int raw = Libc.OpenFile("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (raw < 0) throw PlatformException.FromLastError("open /dev/net/tun");
        var fd = new FileDescriptor(raw);
        try
        {
            byte* ifr = stackalloc byte[Libc.IfReqSize];
            new Span<byte>(ifr, Libc.IfReqSize).Clear();
            Encoding.UTF8.GetBytes(name, new Span<byte>(ifr, MaxNameLength));
            *(short*)(ifr + Libc.IfReqUnionOffset) = (short)(Libc.IFF_TAP | Libc.IFF_NO_PI | Libc.IFF_TUN_EXCL);
            // SAFETY: ifr is a zeroed 40-byte struct ifreq on the stack; TUNSETIFF reads and writes only that.
            if (Libc.Ioctl(raw, Libc.TUNSETIFF, ifr) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new PlatformException($"TUNSETIFF {name}", errno);
            }
            var assigned = new ReadOnlySpan<byte>(ifr, Libc.IfNameSize);
            int nul = assigned.IndexOf((byte)0);
            return new TapInterface(fd, Encoding.UTF8.GetString(nul < 0 ? assigned : assigned[..nul]));
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>The non-blocking descriptor, e.g. to poll on it.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Sets the interface MTU (SIOCSIFMTU on an AF_INET socket of the calling thread's namespace).</summary>
    public void SetMtu(int mtu)
    {
        int sock = Libc.Socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (sock < 0) throw PlatformException.FromLastError("socket");
        using var s = new FileDescriptor(sock);
        byte* ifr = stackalloc byte[Libc.IfReqSize];
        FillIfReq(ifr);
        *(int*)(ifr + Libc.IfReqUnionOffset) = mtu;
        // SAFETY: ifr is a 40-byte struct ifreq on the stack; SIOCSIFMTU reads only that.
        if (Libc.Ioctl(sock, Libc.SIOCSIFMTU, ifr) != 0) throw PlatformException.FromLastError($"SIOCSIFMTU {Name} {mtu}");
    }

    /// <summary>Sets the interface's Ethernet address (SIOCSIFHWADDR on the tun descriptor).</summary>
    public void SetMacAddress(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6) throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        byte* ifr = stackalloc byte[Libc.IfReqSize];
        FillIfReq(ifr);
        // struct sockaddr: sa_family (u16), sa_data[14].
        *(ushort*)(ifr + Libc.IfReqUnionOffset) = Libc.ARPHRD_ETHER;
        mac.CopyTo(new Span<byte>(ifr + Libc.IfReqUnionOffset + 2, 6));
        WithFd(fd =>
        {
            // SAFETY: ifr is a 40-byte struct ifreq on the stack; SIOCSIFHWADDR reads only that.
            return Libc.Ioctl(fd, Libc.SIOCSIFHWADDR, ifr);
        }, "SIOCSIFHWADDR");
    }

    /// <summary>Sets the carrier (TUNSETCARRIER, Linux 5.0+): the interface reports LOWER_UP only with carrier on.</summary>
    public void SetCarrier(bool on)
    {
        int* value = stackalloc int[1];
        *value = on ? 1 : 0;
        WithFd(fd =>
        {
            // SAFETY: TUNSETCARRIER reads one int through the pointer, which points at the stack.
            return Libc.Ioctl(fd, Libc.TUNSETCARRIER, value);
        }, "TUNSETCARRIER");
    }

    /// <summary>Sets or clears persistence (TUNSETPERSIST): a persistent interface outlives its descriptor.</summary>
    public void SetPersistent(bool on)
        => WithFd(fd => Libc.IoctlInt(fd, Libc.TUNSETPERSIST, on ? 1 : 0), "TUNSETPERSIST");

    /// <summary>
    /// Reads one frame. Returns its length, 0 when none is pending (EAGAIN), or -1 when the descriptor is closed or
    /// the interface is gone.
    /// </summary>
    public int TryRead(Span<byte> frame)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            fixed (byte* p = frame)
            {
                while (true)
                {
                    // SAFETY: p points at frame.Length writable bytes, pinned for the call.
                    nint n = Libc.Read(_fd.Value, p, (nuint)frame.Length);
                    if (n >= 0) return (int)n;
                    int err = Marshal.GetLastPInvokeError();
                    if (err == Libc.EINTR) continue;
                    return err == Libc.EAGAIN ? 0 : -1;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Writes one frame into the kernel's receive path. Returns false when the kernel refused it or the descriptor is closed.</summary>
    public bool TryWrite(ReadOnlySpan<byte> frame)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            fixed (byte* p = frame)
            {
                while (true)
                {
                    // SAFETY: p points at frame.Length readable bytes, pinned for the call.
                    nint n = Libc.Write(_fd.Value, p, (nuint)frame.Length);
                    if (n >= 0) return n == frame.Length;
                    if (Marshal.GetLastPInvokeError() != Libc.EINTR) return false;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>
    /// Waits until a frame can be read or <paramref name="wake"/> is signalled (it is not consumed). Returns true when
    /// the interface is readable, false when woken, the descriptor is closed or the interface went away.
    /// </summary>
    public bool WaitReadable(EventFd wake, int timeoutMs = -1)
    {
        ArgumentNullException.ThrowIfNull(wake);
        bool added = false, wakeAdded = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            wake.Descriptor.DangerousAddRef(ref wakeAdded);
            Libc.PollFd* fds = stackalloc Libc.PollFd[2];
            while (true)
            {
                fds[0] = new Libc.PollFd { Fd = _fd.Value, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = wake.Descriptor.Value, Events = Libc.POLLIN };
                // SAFETY: fds points at two pollfd structs on the stack.
                int r = Libc.Poll(fds, 2, timeoutMs);
                if (r < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
                    return false;
                }
                if (r == 0) return false;
                if (fds[1].Revents != 0) return false;
                if ((fds[0].Revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) return false;
                return (fds[0].Revents & Libc.POLLIN) != 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (wakeAdded) wake.Descriptor.DangerousRelease();
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Closes the descriptor; a non-persistent interface is removed by the kernel.</summary>
    public void Dispose() => _fd.Dispose();

    private void FillIfReq(byte* ifr)
    {
        new Span<byte>(ifr, Libc.IfReqSize).Clear();
        Encoding.UTF8.GetBytes(Name, new Span<byte>(ifr, MaxNameLength));
    }

    private delegate int FdCall(int fd);

    private void WithFd(FdCall call, string what)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            if (call(_fd.Value) != 0) throw PlatformException.FromLastError($"{what} {Name}");
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }
}
