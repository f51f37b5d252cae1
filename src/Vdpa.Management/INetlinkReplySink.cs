namespace Uvdpa.Vdpa.Management;

/// <summary>
/// Where a <see cref="NetlinkService"/> writes replies: each call is one datagram, i.e. what one recvmsg on a
/// NETLINK_GENERIC socket would return (at most <see cref="NetlinkService.MaxDatagramSize"/> bytes).
/// Returns false when the peer is gone; the service then stops producing replies for that request.
/// </summary>
public interface INetlinkReplySink
{
    /// <summary>Sends one datagram.</summary>
    bool Send(ReadOnlySpan<byte> datagram);
}
