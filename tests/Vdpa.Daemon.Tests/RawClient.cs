using System.Net.Sockets;
using System.Runtime.InteropServices;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Daemon.Tests;

/// <summary>A bare SOCK_SEQPACKET connection to the daemon, for clients that misbehave on purpose.</summary>
internal sealed class RawClient : IDisposable
{
    private readonly Socket _socket;

    public RawClient(string path)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        _socket.Connect(new UnixDomainSocketEndPoint(path));
        _socket.ReceiveTimeout = (int)TestDaemon.Timeout.TotalMilliseconds;
    }

    public void Send(ReadOnlySpan<byte> datagram) => _socket.Send(datagram);

    /// <summary>One datagram's length (MSG_TRUNC: the real length), 0 at EOF.</summary>
    public int Receive(byte[] buffer) => _socket.Receive(buffer, SocketFlags.Truncated);

    /// <summary>Reads until EOF (the daemon closed the connection); fails on timeout. Returns the datagrams seen.</summary>
    public int ReadUntilClosed()
    {
        var buffer = new byte[65536];
        int datagrams = 0;
        while (true)
        {
            int n;
            try
            {
                n = Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return datagrams;
            }
            if (n == 0) return datagrams;
            datagrams++;
        }
    }

    /// <summary>A bare genetlink request: nlmsghdr + genlmsghdr, no attributes.</summary>
    public static byte[] Request(ushort familyId, VdpaCommand command, NetlinkMessageFlags flags, uint sequence)
    {
        var b = new byte[20];
        MemoryMarshal.Write(b.AsSpan(0), 20u);                        // nlmsg_len (host order, as netlink is)
        MemoryMarshal.Write(b.AsSpan(4), familyId);                   // nlmsg_type
        MemoryMarshal.Write(b.AsSpan(6), (ushort)flags);              // nlmsg_flags
        MemoryMarshal.Write(b.AsSpan(8), sequence);                   // nlmsg_seq
        MemoryMarshal.Write(b.AsSpan(12), 0u);                        // nlmsg_pid
        b[16] = (byte)command;                                        // genlmsghdr.cmd
        return b;
    }

    public void Dispose() => _socket.Dispose();
}
