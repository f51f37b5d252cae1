namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// A datagram channel to a netlink peer: the kernel (<see cref="KernelNetlinkTransport"/>) or vdpad
/// (<see cref="UnixSeqpacketTransport"/>). One <see cref="Send"/> is one sendmsg of a request datagram; one
/// <see cref="Receive"/> is one recvmsg and returns one whole reply datagram (one or more netlink messages) of at
/// most <see cref="ReceiveBufferSize"/> bytes. Not thread-safe: one request at a time.
/// </summary>
public interface INetlinkTransport : IDisposable
{
    /// <summary>The recvmsg buffer size. A peer must batch its replies so that each datagram fits (the kernel sizes dump batches the same way).</summary>
    int ReceiveBufferSize { get; }

    /// <summary>Which ACK shapes the peer was asked for (NETLINK_CAP_ACK / NETLINK_EXT_ACK).</summary>
    NetlinkAckOptions AckOptions { get; }

    /// <summary>Sends one datagram. <see cref="NetlinkTransportException"/> on failure.</summary>
    void Send(ReadOnlySpan<byte> datagram);

    /// <summary>
    /// Receives one datagram; the span stays valid until the next call. A datagram larger than
    /// <see cref="ReceiveBufferSize"/>, a closed peer or a timeout give <see cref="NetlinkTransportException"/>.
    /// </summary>
    ReadOnlySpan<byte> Receive();
}

/// <summary>Transport settings.</summary>
public sealed class NetlinkTransportOptions
{
    /// <summary>32768, libmnl's MNL_SOCKET_DUMP_SIZE.</summary>
    public const int DefaultReceiveBufferSize = 32768;

    /// <summary>The recvmsg buffer size (at least 4096).</summary>
    public int ReceiveBufferSize { get; init; } = DefaultReceiveBufferSize;

    /// <summary>How long a receive may block; null (the default, like iproute2) waits forever.</summary>
    public TimeSpan? ReceiveTimeout { get; init; }

    /// <summary>Ask for NETLINK_CAP_ACK (default true, like iproute2).</summary>
    public bool CapAck { get; init; } = true;

    /// <summary>Ask for NETLINK_EXT_ACK (default true, like iproute2).</summary>
    public bool ExtendedAck { get; init; } = true;
}

/// <summary>
/// The channel to the netlink peer failed (connect, send, receive, timeout, peer closed, oversized datagram).
/// The transport should be disposed; a new one may succeed.
/// </summary>
public sealed class NetlinkTransportException : IOException
{
    /// <summary>Creates the exception.</summary>
    public NetlinkTransportException(string message, int errno = 0, Exception? inner = null) : base(message, inner) => Errno = errno;

    /// <summary>The errno behind the failure, 0 when not a system error.</summary>
    public int Errno { get; }
}
