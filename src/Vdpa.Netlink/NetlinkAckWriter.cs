using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>What the requesting socket asked for with setsockopt(SOL_NETLINK): shapes ACKs as netlink_ack does.</summary>
/// <param name="CapAck">NETLINK_CAP_ACK: errors echo only the request header (NLM_F_CAPPED).</param>
/// <param name="ExtendedAck">NETLINK_EXT_ACK: append extended-ack TLVs (NLM_F_ACK_TLVS).</param>
public readonly record struct NetlinkAckOptions(bool CapAck, bool ExtendedAck)
{
    /// <summary>What iproute2 sets: both options on.</summary>
    public static NetlinkAckOptions Iproute2 => new(CapAck: true, ExtendedAck: true);
}

/// <summary>The server side of struct netlink_ext_ack: what a handler reports along with its errno.</summary>
public sealed class NetlinkExtAckInfo
{
    /// <summary>_msg: error text, or a warning when the result is 0.</summary>
    public string? Message { get; init; }

    /// <summary>cookie.</summary>
    public byte[]? Cookie { get; init; }

    /// <summary>bad_attr, as an offset from the start of the request's nlmsghdr (errors only).</summary>
    public int? BadAttributeOffset { get; init; }

    /// <summary>policy of the bad attribute, already encoded as nested NL_POLICY_TYPE_ATTR_* attributes (errors only).</summary>
    public byte[]? Policy { get; init; }

    /// <summary>miss_type (errors only).</summary>
    public uint? MissingType { get; init; }

    /// <summary>miss_nest offset (errors only).</summary>
    public int? MissingNestOffset { get; init; }

    /// <summary>
    /// Encodes the policy report netlink_policy_dump_write_attr produces for an unsigned integer range
    /// (e.g. VDPA_ATTR_DEV_NET_CFG_MTU: NLA_POLICY_MIN(NLA_U16, 68) → MIN_VALUE_U 68, MAX_VALUE_U 0xffff, TYPE U16).
    /// </summary>
    public static byte[] UnsignedRangePolicy(NetlinkAttributeKind kind, ulong min, ulong max)
    {
        Span<byte> buf = stackalloc byte[64];
        var w = new NetlinkWriter(buf);
        w.PutU64((ushort)NetlinkPolicyTypeAttribute.MinValueUnsigned, min);
        w.PutU64((ushort)NetlinkPolicyTypeAttribute.MaxValueUnsigned, max);
        w.PutU32((ushort)NetlinkPolicyTypeAttribute.Type, (uint)kind);
        return w.ToArray();
    }

    /// <summary>
    /// Encodes the policy report for a length-ranged binary attribute (e.g. NLA_POLICY_ETH_ADDR: MIN_LENGTH 6,
    /// MAX_LENGTH 6, TYPE BINARY).
    /// </summary>
    public static byte[] LengthRangePolicy(NetlinkAttributeKind kind, uint minLength, uint maxLength)
    {
        Span<byte> buf = stackalloc byte[64];
        var w = new NetlinkWriter(buf);
        w.PutU32((ushort)NetlinkPolicyTypeAttribute.MinLength, minLength);
        w.PutU32((ushort)NetlinkPolicyTypeAttribute.MaxLength, maxLength);
        w.PutU32((ushort)NetlinkPolicyTypeAttribute.Type, (uint)kind);
        return w.ToArray();
    }
}

/// <summary>Writes NLMSG_ERROR and NLMSG_DONE exactly as the kernel does (netlink_ack, netlink_dump_done).</summary>
public static class NetlinkAckWriter
{
    /// <summary>
    /// Writes the answer to <paramref name="request"/> (the whole request message, header included): an ACK when
    /// <paramref name="errno"/> is 0, otherwise an error carrying −errno. Success is always NLM_F_CAPPED; errors
    /// echo the full request unless <see cref="NetlinkAckOptions.CapAck"/>. TLVs are added only with
    /// <see cref="NetlinkAckOptions.ExtendedAck"/>, in the kernel's order: MSG, COOKIE, then for errors only
    /// OFFS, POLICY, MISS_TYPE, MISS_NEST. Returns false if the writer overflowed.
    /// </summary>
    public static bool WriteAck(ref NetlinkWriter writer, ReadOnlySpan<byte> request, uint portId, int errno, NetlinkAckOptions options, NetlinkExtAckInfo? extack = null)
    {
        NlMsgHeader req = NlMsgHeader.Read(request);
        int err = -errno;
        NetlinkMessageFlags flags = NetlinkMessageFlags.None;
        bool capped = err == 0 || options.CapAck;
        if (capped) flags |= NetlinkMessageFlags.Capped;
        bool tlvs = options.ExtendedAck && extack is not null && HasTlvs(extack, err);
        if (tlvs) flags |= NetlinkMessageFlags.AckTlvs;

        NetlinkMessageToken m = writer.BeginMessage(NetlinkMessageType.Error, flags, req.Sequence, portId);
        Span<byte> e = stackalloc byte[Netlink.ErrorPayloadSize];
        MemoryMarshal.Write(e, in err);
        req.Write(e[4..]);
        writer.PutBytes(e);
        if (!capped)
        {
            int len = (int)Math.Min(req.Length, (uint)request.Length);
            if (len > Netlink.MessageHeaderSize) writer.PutBytes(request[Netlink.MessageHeaderSize..len]);
        }
        if (tlvs) WriteTlvs(ref writer, extack!, err);
        return writer.EndMessage(m);
    }

    /// <summary>
    /// Writes the NLMSG_DONE that ends a dump: flags NLM_F_MULTI, payload the int <c>-errno</c>; with extended
    /// ack and a message, NLM_F_ACK_TLVS and an NLMSGERR_ATTR_MSG TLV.
    /// </summary>
    public static bool WriteDone(ref NetlinkWriter writer, uint sequence, uint portId, int errno = 0, NetlinkAckOptions options = default, string? message = null)
    {
        bool tlv = options.ExtendedAck && message is not null;
        NetlinkMessageFlags flags = NetlinkMessageFlags.Multi | (tlv ? NetlinkMessageFlags.AckTlvs : 0);
        NetlinkMessageToken m = writer.BeginMessage(NetlinkMessageType.Done, flags, sequence, portId);
        Span<byte> e = stackalloc byte[4];
        MemoryMarshal.Write(e, -errno);
        writer.PutBytes(e);
        if (tlv) writer.PutString((ushort)NetlinkErrorAttribute.Message, message);
        return writer.EndMessage(m);
    }

    private static bool HasTlvs(NetlinkExtAckInfo x, int err) =>
        x.Message is not null || x.Cookie is { Length: > 0 } ||
        (err != 0 && (x.BadAttributeOffset is not null || x.Policy is not null || x.MissingType is not null || x.MissingNestOffset is not null));

    private static void WriteTlvs(ref NetlinkWriter w, NetlinkExtAckInfo x, int err)
    {
        if (x.Message is not null) w.PutString((ushort)NetlinkErrorAttribute.Message, x.Message);
        if (x.Cookie is { Length: > 0 }) w.PutBinary((ushort)NetlinkErrorAttribute.Cookie, x.Cookie);
        if (err == 0) return;
        if (x.BadAttributeOffset is int off) w.PutU32((ushort)NetlinkErrorAttribute.Offset, (uint)off);
        if (x.Policy is not null)
        {
            // netlink_policy_dump_write_attr uses nla_nest_start, so NLA_F_NESTED is set (seen in the capture).
            NetlinkNestToken n = w.BeginNested((ushort)NetlinkErrorAttribute.Policy, setNestedFlag: true);
            w.PutBytes(x.Policy);
            w.EndNested(n);
        }
        if (x.MissingType is uint mt) w.PutU32((ushort)NetlinkErrorAttribute.MissingType, mt);
        if (x.MissingNestOffset is int mn) w.PutU32((ushort)NetlinkErrorAttribute.MissingNest, (uint)mn);
    }
}
