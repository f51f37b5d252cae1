using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// A parsed NLMSG_ERROR: struct nlmsgerr (int error + the echoed request nlmsghdr), the echoed request payload
/// unless NLM_F_CAPPED, then extended-ack TLVs if NLM_F_ACK_TLVS. Error 0 is an ACK (possibly with a warning).
/// </summary>
public readonly ref struct NetlinkErrorMessage
{
    private NetlinkErrorMessage(int error, NlMsgHeader request, NetlinkMessageFlags flags, ReadOnlySpan<byte> echoedPayload, ReadOnlySpan<byte> tlvs)
    {
        Error = error;
        Request = request;
        Flags = flags;
        EchoedPayload = echoedPayload;
        Tlvs = tlvs;
    }

    /// <summary>nlmsgerr.error: 0 for an ACK, otherwise a negative errno.</summary>
    public int Error { get; }

    /// <summary>The positive errno (0 for an ACK).</summary>
    public int Errno => -Error;

    /// <summary>True for an ACK (error 0).</summary>
    public bool IsAck => Error == 0;

    /// <summary>nlmsgerr.msg: the echoed header of the request this answers.</summary>
    public NlMsgHeader Request { get; }

    /// <summary>The flags of the NLMSG_ERROR message itself (Capped, AckTlvs).</summary>
    public NetlinkMessageFlags Flags { get; }

    /// <summary>True when only the request header was echoed (NLM_F_CAPPED).</summary>
    public bool IsCapped => (Flags & NetlinkMessageFlags.Capped) != 0;

    /// <summary>The echoed request payload (empty when capped).</summary>
    public ReadOnlySpan<byte> EchoedPayload { get; }

    /// <summary>The extended-ack TLV bytes (empty without NLM_F_ACK_TLVS).</summary>
    public ReadOnlySpan<byte> Tlvs { get; }

    /// <summary>Parses an NLMSG_ERROR message; false (with <paramref name="problem"/>) if it is not one or is malformed.</summary>
    public static bool TryParse(NetlinkMessage message, out NetlinkErrorMessage error, out string? problem)
    {
        error = default;
        if (message.Type != NetlinkMessageType.Error)
        {
            problem = $"message type 0x{message.Type:x} is not NLMSG_ERROR";
            return false;
        }
        ReadOnlySpan<byte> p = message.Payload;
        if (p.Length < Netlink.ErrorPayloadSize)
        {
            problem = $"nlmsgerr truncated: {p.Length} of {Netlink.ErrorPayloadSize} bytes";
            return false;
        }
        int err = MemoryMarshal.Read<int>(p);
        NlMsgHeader request = MemoryMarshal.Read<NlMsgHeader>(p[4..]);
        NetlinkMessageFlags flags = message.Flags;
        int tlvStart = Netlink.ErrorPayloadSize;
        ReadOnlySpan<byte> echoed = default;
        if ((flags & NetlinkMessageFlags.Capped) == 0 && err != 0)
        {
            // Uncapped errors echo the whole request (netlink_ack: nlmsg_append of nlmsg_len(nlh), aligned).
            if (request.Length < Netlink.MessageHeaderSize)
            {
                problem = $"echoed nlmsg_len {request.Length} is smaller than the header";
                return false;
            }
            long end = 4L + Netlink.AlignMessage((int)Math.Min(request.Length, int.MaxValue - 8));
            long echoedEnd = 4L + request.Length;
            if (echoedEnd > p.Length)
            {
                problem = $"echoed request of {request.Length} bytes exceeds the {p.Length - 4} bytes present";
                return false;
            }
            echoed = p[Netlink.ErrorPayloadSize..(int)echoedEnd];
            tlvStart = (int)Math.Min(end, p.Length);
        }
        ReadOnlySpan<byte> tlvs = (flags & NetlinkMessageFlags.AckTlvs) != 0 ? p[tlvStart..] : default;
        error = new NetlinkErrorMessage(err, request, flags, echoed, tlvs);
        problem = null;
        return true;
    }

    /// <summary>Decodes the extended-ack TLVs (<see cref="NetlinkFormatException"/> if they are malformed).</summary>
    public NetlinkExtendedAck GetExtendedAck() => NetlinkExtendedAck.Parse(Tlvs);
}
