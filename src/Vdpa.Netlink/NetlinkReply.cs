namespace Uvdpa.Vdpa.Netlink;

/// <summary>One generic netlink reply message, copied out of the receive buffer.</summary>
public sealed class NetlinkReplyMessage
{
    internal NetlinkReplyMessage(byte[] raw, int familyHeaderSize)
    {
        Raw = raw;
        Header = NlMsgHeader.Read(raw);
        var m = new NetlinkMessage(Header, raw);
        if (!m.TryGetGenl(out GenlMsgHeader genl, out _, familyHeaderSize))
            throw new NetlinkFormatException($"generic netlink reply of {raw.Length} bytes has no genlmsghdr");
        Genl = genl;
        int start = Netlink.MessageHeaderSize + Netlink.GenlHeaderSize + Netlink.AlignMessage(familyHeaderSize);
        Attributes = NetlinkAttributeList.Parse(raw.AsMemory(start));
        AttributeAreaOffset = start;
    }

    /// <summary>The whole message (nlmsg_len bytes).</summary>
    public byte[] Raw { get; }

    /// <summary>The nlmsghdr.</summary>
    public NlMsgHeader Header { get; }

    /// <summary>The genlmsghdr.</summary>
    public GenlMsgHeader Genl { get; }

    /// <summary>The attributes in wire order.</summary>
    public NetlinkAttributeList Attributes { get; }

    /// <summary>Offset of the attribute area within <see cref="Raw"/>.</summary>
    public int AttributeAreaOffset { get; }
}

/// <summary>Everything a request got back: the reply messages (dump parts or the single doit reply) and the ACK's warning.</summary>
public sealed class NetlinkReply
{
    internal NetlinkReply(IReadOnlyList<NetlinkReplyMessage> messages, NetlinkExtendedAck? ack, bool dumpInterrupted, IReadOnlyList<byte[]> datagrams)
    {
        Messages = messages;
        Ack = ack;
        DumpInterrupted = dumpInterrupted;
        Datagrams = datagrams;
    }

    /// <summary>The family messages in arrival order (NLMSG_ERROR/DONE/NOOP excluded).</summary>
    public IReadOnlyList<NetlinkReplyMessage> Messages { get; }

    /// <summary>The extended ack of a successful ACK or DONE (null when none arrived or it carried no TLVs).</summary>
    public NetlinkExtendedAck? Ack { get; }

    /// <summary>A warning sent with a successful ACK (extack message with error 0), e.g. DEV_ATTR_SET on a block device.</summary>
    public string? Warning => Ack?.Message;

    /// <summary>Some dump message carried NLM_F_DUMP_INTR (the data changed during the dump).</summary>
    public bool DumpInterrupted { get; }

    /// <summary>The received datagrams, byte for byte (for tracing and golden tests).</summary>
    public IReadOnlyList<byte[]> Datagrams { get; }
}
