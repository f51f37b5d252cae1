using System.Net.Sockets;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>Shared datagram logic of the socket transports.</summary>
public abstract class SocketNetlinkTransport : INetlinkTransport
{
    private readonly byte[] _buffer;
    private bool _disposed;

    private protected SocketNetlinkTransport(Socket socket, NetlinkTransportOptions options, NetlinkAckOptions ackOptions)
    {
        Socket = socket;
        _buffer = new byte[Math.Max(options.ReceiveBufferSize, 4096)];
        AckOptions = ackOptions;
        if (options.ReceiveTimeout is TimeSpan t)
            socket.ReceiveTimeout = (int)Math.Clamp(t.TotalMilliseconds, 1, int.MaxValue);
    }

    /// <summary>The underlying socket.</summary>
    protected Socket Socket { get; }

    /// <inheritdoc />
    public int ReceiveBufferSize => _buffer.Length;

    /// <inheritdoc />
    public NetlinkAckOptions AckOptions { get; }

    /// <summary>A short description of the peer for error messages.</summary>
    protected abstract string PeerDescription { get; }

    /// <inheritdoc />
    public void Send(ReadOnlySpan<byte> datagram)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int sent;
        try
        {
            sent = Socket.Send(datagram, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw new NetlinkTransportException($"send to {PeerDescription} failed: {e.Message}", ToErrno(e.SocketErrorCode), e);
        }
        if (sent != datagram.Length)
            throw new NetlinkTransportException($"send to {PeerDescription} was short: {sent} of {datagram.Length} bytes");
    }

    /// <inheritdoc />
    public ReadOnlySpan<byte> Receive()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n;
        try
        {
            // MSG_TRUNC makes recvmsg return the real datagram length even when it did not fit, so an oversized
            // datagram is reported instead of silently cut.
            n = Socket.Receive(_buffer, SocketFlags.Truncated);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            throw new NetlinkTransportException($"no reply from {PeerDescription} within {Socket.ReceiveTimeout} ms", Errno.ETIMEDOUT, e);
        }
        catch (SocketException e)
        {
            throw new NetlinkTransportException($"receive from {PeerDescription} failed: {e.Message}", ToErrno(e.SocketErrorCode), e);
        }
        if (n == 0) throw new NetlinkTransportException($"{PeerDescription} closed the connection");
        if (n > _buffer.Length)
            throw new NetlinkTransportException($"a {n}-byte datagram from {PeerDescription} exceeds the {_buffer.Length}-byte receive buffer", Errno.EMSGSIZE);
        return _buffer.AsSpan(0, n);
    }

    /// <summary>Maps the socket errors a management client meets to Linux errno values (0 when unmapped).</summary>
    internal static int ToErrno(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => Errno.ECONNREFUSED,
        SocketError.AddressNotAvailable => Errno.ENOENT, // connect() to a missing Unix socket path
        SocketError.AccessDenied => Errno.EACCES,
        SocketError.TimedOut or SocketError.WouldBlock => Errno.ETIMEDOUT,
        SocketError.MessageSize => Errno.EMSGSIZE,
        SocketError.NoBufferSpaceAvailable => Errno.ENOBUFS,
        SocketError.Interrupted => Errno.EINTR,
        _ => 0,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Socket.Dispose();
        GC.SuppressFinalize(this);
    }
}
