using System.Runtime.InteropServices;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vhost.User;

/// <summary>
/// Reads and writes vhost-user messages on a SOCK_STREAM Unix socket: the header (with up to 8 SCM_RIGHTS
/// descriptors) and then the payload, which is capped before anything is allocated. Every descriptor that arrives
/// belongs to the returned message, or is closed when reading fails. One reader and one writer at a time.
/// </summary>
public sealed class VhostUserConnection : IDisposable
{
    private readonly UnixStreamSocket _socket;
    private readonly Lock _sendLock = new();

    /// <summary>Wraps a connected socket (takes ownership).</summary>
    public VhostUserConnection(UnixStreamSocket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
    }

    /// <summary>The socket.</summary>
    public UnixStreamSocket Socket => _socket;

    /// <summary>
    /// Reads one message. Returns null on end of stream at a message boundary. Throws
    /// <see cref="VhostUserProtocolException"/> for a bad header (checked before the payload is read), too many
    /// descriptors, or end of stream inside a message; <see cref="PlatformException"/> for socket errors.
    /// </summary>
    /// <param name="expectReply">True on the front-end side (replies carry the REPLY flag).</param>
    public VhostUserMessage? Read(bool expectReply = false)
    {
        var fds = new List<FileDescriptor>();
        try
        {
            Span<byte> hdr = stackalloc byte[VhostUserHeader.Size];
            if (!ReadExactly(hdr, fds, atBoundary: true)) return null;
            var header = VhostUserHeader.Read(hdr);
            VhostUserValidator.CheckHeader(header, expectReply);
            var payload = header.PayloadSize == 0 ? [] : new byte[header.PayloadSize];
            if (payload.Length > 0 && !ReadExactly(payload, fds, atBoundary: false))
                throw new VhostUserProtocolException((FrontendRequest)header.Request, "end of stream inside a message");
            if (fds.Count > UnixStreamSocket.MaxDescriptors)
                throw new VhostUserProtocolException((FrontendRequest)header.Request, $"{fds.Count} descriptors (at most {UnixStreamSocket.MaxDescriptors})");
            var message = new VhostUserMessage(header, payload, fds);
            fds.Clear();
            return message;
        }
        finally
        {
            foreach (var fd in fds) fd.Dispose();
        }
    }

    private bool ReadExactly(Span<byte> buffer, List<FileDescriptor> fds, bool atBoundary)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = _socket.Receive(buffer[done..], fds, out bool truncated);
            if (truncated) throw new VhostUserProtocolException(FrontendRequest.None, $"more than {UnixStreamSocket.MaxDescriptors} descriptors in one message");
            if (n == 0)
            {
                if (atBoundary && done == 0) return false;
                throw new VhostUserProtocolException(FrontendRequest.None, "end of stream inside a message");
            }
            done += n;
        }
        return true;
    }

    /// <summary>Sends a message with <paramref name="flags"/> (version 1 is added).</summary>
    public void Send(FrontendRequest request, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<FileDescriptor> descriptors = default)
    {
        var buffer = new byte[VhostUserHeader.Size + payload.Length];
        new VhostUserHeader { Request = (uint)request, Flags = flags | VhostUserHeader.Version, PayloadSize = (uint)payload.Length }.Write(buffer);
        payload.CopyTo(buffer.AsSpan(VhostUserHeader.Size));
        lock (_sendLock) _socket.Send(buffer, descriptors);
    }

    /// <summary>Sends a wire struct as the payload.</summary>
    public void Send<T>(FrontendRequest request, uint flags, in T payload, ReadOnlySpan<FileDescriptor> descriptors = default) where T : unmanaged
        => Send(request, flags, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in payload)), descriptors);

    /// <summary>Sends a reply: same request id, flags exactly 0x5 (version 1 | REPLY).</summary>
    public void Reply(FrontendRequest request, ReadOnlySpan<byte> payload) => Send(request, VhostUserHeader.ReplyFlag, payload);

    /// <summary>Sends a u64 reply (also the REPLY_ACK status: 0 success, non-zero failure).</summary>
    public void ReplyU64(FrontendRequest request, ulong value) => Send(request, VhostUserHeader.ReplyFlag, in value);

    /// <summary>Wakes a blocked <see cref="Read"/> (it returns null) and tells the peer we are gone.</summary>
    public void Shutdown() => _socket.Shutdown();

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();
}
