namespace Uvdpa.Vdpa.Netlink;

/// <summary>Netlink layout constants and alignment helpers (include/uapi/linux/netlink.h).</summary>
public static class Netlink
{
    /// <summary>NLMSG_ALIGNTO: messages are padded to 4 bytes.</summary>
    public const int MessageAlignTo = 4;

    /// <summary>NLA_ALIGNTO: attributes are padded to 4 bytes.</summary>
    public const int AttributeAlignTo = 4;

    /// <summary>NLMSG_HDRLEN: sizeof(struct nlmsghdr).</summary>
    public const int MessageHeaderSize = 16;

    /// <summary>GENL_HDRLEN: sizeof(struct genlmsghdr).</summary>
    public const int GenlHeaderSize = 4;

    /// <summary>NLA_HDRLEN: sizeof(struct nlattr).</summary>
    public const int AttributeHeaderSize = 4;

    /// <summary>sizeof(struct nlmsgerr): int error + the echoed struct nlmsghdr.</summary>
    public const int ErrorPayloadSize = 4 + MessageHeaderSize;

    /// <summary>NLA_F_NESTED (1 &lt;&lt; 15): the attribute carries nested attributes.</summary>
    public const ushort AttributeNested = 0x8000;

    /// <summary>NLA_F_NET_BYTEORDER (1 &lt;&lt; 14): the payload is in network byte order.</summary>
    public const ushort AttributeNetByteOrder = 0x4000;

    /// <summary>NLA_TYPE_MASK: the type bits of nla_type (the two flag bits masked off).</summary>
    public const ushort AttributeTypeMask = unchecked((ushort)~(AttributeNested | AttributeNetByteOrder));

    /// <summary>GENL_ID_CTRL (NLMSG_MIN_TYPE): the fixed message type of the nlctrl family.</summary>
    public const ushort GenlIdCtrl = 0x10;

    /// <summary>NLMSG_ALIGN(len).</summary>
    public static int AlignMessage(int length) => (length + MessageAlignTo - 1) & ~(MessageAlignTo - 1);

    /// <summary>NLA_ALIGN(len).</summary>
    public static int AlignAttribute(int length) => (length + AttributeAlignTo - 1) & ~(AttributeAlignTo - 1);
}
