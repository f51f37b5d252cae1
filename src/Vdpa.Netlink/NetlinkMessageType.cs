namespace Uvdpa.Vdpa.Netlink;

/// <summary>The reserved control message types (nlmsg_type below NLMSG_MIN_TYPE).</summary>
public static class NetlinkMessageType
{
    /// <summary>NLMSG_NOOP: nothing; skip it.</summary>
    public const ushort Noop = 0x1;

    /// <summary>NLMSG_ERROR: an error (errno &lt; 0) or an ACK (0), struct nlmsgerr payload.</summary>
    public const ushort Error = 0x2;

    /// <summary>NLMSG_DONE: end of a multi-part dump; payload is an int error.</summary>
    public const ushort Done = 0x3;

    /// <summary>NLMSG_OVERRUN: data lost.</summary>
    public const ushort Overrun = 0x4;

    /// <summary>NLMSG_MIN_TYPE: the first type a protocol (or genetlink family) may use.</summary>
    public const ushort MinType = 0x10;
}
