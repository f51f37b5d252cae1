using System.Net.Sockets;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// vdpad's management socket: AF_UNIX SOCK_SEQPACKET, one netlink datagram per packet in each direction, the
/// same bytes the kernel family would exchange. The daemon behaves as if NETLINK_CAP_ACK and NETLINK_EXT_ACK
/// were set unless told otherwise.
/// </summary>
public sealed class UnixSeqpacketTransport : SocketNetlinkTransport
{
    /// <summary>The default socket path.</summary>
    public const string DefaultSocketPath = "/run/uvdpa/vdpad.sock";

    /// <summary>Environment variable that overrides <see cref="DefaultSocketPath"/>.</summary>
    public const string SocketPathEnvironmentVariable = "UVDPA_SOCKET";

    private readonly string _path;

    private UnixSeqpacketTransport(Socket socket, string path, NetlinkTransportOptions options)
        : base(socket, options, new NetlinkAckOptions(options.CapAck, options.ExtendedAck)) => _path = path;

    /// <inheritdoc />
    protected override string PeerDescription => $"vdpad at {_path}";

    /// <summary>The socket path to use: <paramref name="path"/> if given, else $UVDPA_SOCKET if set, else <see cref="DefaultSocketPath"/>.</summary>
    public static string ResolveSocketPath(string? path = null)
    {
        if (!string.IsNullOrEmpty(path)) return path;
        string? env = Environment.GetEnvironmentVariable(SocketPathEnvironmentVariable);
        return string.IsNullOrEmpty(env) ? DefaultSocketPath : env;
    }

    /// <summary>Connects to vdpad (path resolved by <see cref="ResolveSocketPath"/>).</summary>
    public static UnixSeqpacketTransport Connect(string? path = null, NetlinkTransportOptions? options = null)
    {
        string p = ResolveSocketPath(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(p));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new NetlinkTransportException($"cannot connect to vdpad at {p}: {e.Message}", ToErrno(e.SocketErrorCode), e);
        }
        return new UnixSeqpacketTransport(socket, p, options ?? new NetlinkTransportOptions());
    }

    /// <summary>Wraps an already connected SOCK_SEQPACKET socket (takes ownership).</summary>
    public static UnixSeqpacketTransport FromConnectedSocket(Socket socket, NetlinkTransportOptions? options = null, string description = "socket")
    {
        ArgumentNullException.ThrowIfNull(socket);
        return new UnixSeqpacketTransport(socket, description, options ?? new NetlinkTransportOptions());
    }
}
