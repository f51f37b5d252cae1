using System.Net.Sockets;
using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// The kernel's generic netlink: socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC), auto-bound on first send,
/// with NETLINK_CAP_ACK and NETLINK_EXT_ACK (SOL_NETLINK 270) set like iproute2 does.
/// </summary>
public sealed class KernelNetlinkTransport : SocketNetlinkTransport
{
    private KernelNetlinkTransport(Socket socket, NetlinkTransportOptions options, NetlinkAckOptions ack) : base(socket, options, ack) { }

    /// <inheritdoc />
    protected override string PeerDescription => "the kernel";

    /// <summary>Opens a NETLINK_GENERIC socket (or another netlink <paramref name="protocol"/>).</summary>
    public static KernelNetlinkTransport Open(NetlinkTransportOptions? options = null, int protocol = LinuxSockets.NetlinkGeneric)
    {
        options ??= new NetlinkTransportOptions();
        Socket socket;
        try
        {
            socket = LinuxSockets.OpenNetlink(protocol);
        }
        catch (PlatformException e)
        {
            throw new NetlinkTransportException($"cannot open a netlink socket: {e.Message}", e.Errno, e);
        }
        try
        {
            // Older kernels lack these options (ENOPROTOOPT); iproute2 ignores that too and gets plain ACKs.
            bool cap = options.CapAck && TrySet(socket, LinuxSockets.NetlinkCapAck);
            bool ext = options.ExtendedAck && TrySet(socket, LinuxSockets.NetlinkExtAck);
            return new KernelNetlinkTransport(socket, options, new NetlinkAckOptions(cap, ext));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool TrySet(Socket socket, int option)
    {
        try
        {
            LinuxSockets.SetNetlinkOption(socket, option, 1);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
