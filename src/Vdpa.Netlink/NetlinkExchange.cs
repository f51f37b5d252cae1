namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// One request/reply round trip over a transport, as libmnl's mnl_cb_run loop does it: collect family messages,
/// stop at the ACK (doit) or NLMSG_DONE (dump), turn NLMSG_ERROR into <see cref="VdpaNetlinkException"/>.
/// Messages with another sequence number are stale and skipped.
/// </summary>
public static class NetlinkExchange
{
    /// <summary>Sends <paramref name="request"/> (one complete message) and collects the answer.</summary>
    public static NetlinkReply Execute(INetlinkTransport transport, ReadOnlySpan<byte> request, int familyHeaderSize = 0)
    {
        ArgumentNullException.ThrowIfNull(transport);
        NlMsgHeader req = NlMsgHeader.Read(request);
        bool dump = (req.Flags & NetlinkMessageFlags.Dump) == NetlinkMessageFlags.Dump;
        bool ack = (req.Flags & NetlinkMessageFlags.Ack) != 0;
        transport.Send(request);

        var messages = new List<NetlinkReplyMessage>();
        var datagrams = new List<byte[]>();
        bool interrupted = false;
        while (true)
        {
            ReadOnlySpan<byte> datagram = transport.Receive();
            datagrams.Add(datagram.ToArray());
            bool finished = false;
            foreach (NetlinkMessage m in new NetlinkMessageEnumerator(datagram))
            {
                if (m.Header.Sequence != req.Sequence) continue;
                switch (m.Type)
                {
                    case NetlinkMessageType.Noop:
                        continue;
                    case NetlinkMessageType.Overrun:
                        throw new NetlinkTransportException("NLMSG_OVERRUN: the peer dropped messages", Errno.ENOBUFS);
                    case NetlinkMessageType.Error:
                    {
                        if (!NetlinkErrorMessage.TryParse(m, out NetlinkErrorMessage e, out string? problem))
                            throw new NetlinkFormatException(problem!, m.Offset);
                        NetlinkExtendedAck ext = e.GetExtendedAck();
                        if (!e.IsAck) throw new VdpaNetlinkException(e.Errno, ext.Message, ext, null);
                        return new NetlinkReply(messages, ReferenceEquals(ext, NetlinkExtendedAck.Empty) ? null : ext, interrupted, datagrams);
                    }
                    case NetlinkMessageType.Done:
                    {
                        NetlinkDoneMessage.TryParse(m, out NetlinkDoneMessage d);
                        NetlinkExtendedAck ext = d.GetExtendedAck();
                        if (d.Error < 0) throw new VdpaNetlinkException(-d.Error, ext.Message, ext, null);
                        return new NetlinkReply(messages, ReferenceEquals(ext, NetlinkExtendedAck.Empty) ? null : ext, interrupted, datagrams);
                    }
                    default:
                        if (m.Type < NetlinkMessageType.MinType) continue; // other reserved control types
                        if ((m.Flags & NetlinkMessageFlags.DumpInterrupted) != 0) interrupted = true;
                        messages.Add(new NetlinkReplyMessage(m.Raw.ToArray(), familyHeaderSize));
                        if (!dump && !ack && (m.Flags & NetlinkMessageFlags.Multi) == 0) finished = true;
                        break;
                }
            }
            if (finished) return new NetlinkReply(messages, null, interrupted, datagrams);
        }
    }
}
