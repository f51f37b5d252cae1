using Uvdpa.Virtio.Platform.Linux.Interop;

namespace Uvdpa.Virtio.Platform.Linux;

/// <summary>An eventfd(2) counter, used for kick and call notifications (vhost's ioeventfd/irqfd).</summary>
public sealed unsafe class EventFd : IDisposable
{
    private readonly FileDescriptor _fd;

    private EventFd(FileDescriptor fd) => _fd = fd;

    /// <summary>Creates a new non-blocking or blocking eventfd.</summary>
    public static EventFd Create(bool nonBlocking = false)
    {
        int fd = Libc.EventFd(0, Libc.EFD_CLOEXEC | (nonBlocking ? Libc.EFD_NONBLOCK : 0));
        return fd < 0 ? throw PlatformException.FromLastError("eventfd") : new EventFd(new FileDescriptor(fd));
    }

    /// <summary>Wraps an eventfd received from a peer.</summary>
    public static EventFd FromDescriptor(FileDescriptor fd) => new(fd);

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Adds 1 to the counter (signals). Returns false if the descriptor is closed or the write failed.</summary>
    public bool Signal()
    {
        ulong one = 1;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            while (true)
            {
                nint n = Libc.Write(_fd.Value, &one, 8);
                if (n == 8) return true;
                int err = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (n < 0 && err == Libc.EINTR) continue;
                // EAGAIN: counter saturated; the reader has pending wake-ups anyway.
                return n < 0 && err == Libc.EAGAIN;
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

    /// <summary>Reads and clears the counter; blocks unless non-blocking. Returns 0 when nothing was pending (non-blocking) or on error.</summary>
    public ulong Consume()
    {
        ulong value = 0;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            while (true)
            {
                nint n = Libc.Read(_fd.Value, &value, 8);
                if (n == 8) return value;
                if (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
                return 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _fd.Dispose();
}
