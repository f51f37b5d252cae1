using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// A parsed NLMSG_DONE: the int dump_done_errno (0, or a negative errno when the dump failed), then
/// extended-ack TLVs if NLM_F_ACK_TLVS (netlink_dump_done).
/// </summary>
public readonly ref struct NetlinkDoneMessage
{
    private NetlinkDoneMessage(int error, ReadOnlySpan<byte> tlvs)
    {
        Error = error;
        Tlvs = tlvs;
    }

    /// <summary>0 or a negative errno.</summary>
    public int Error { get; }

    /// <summary>Extended-ack TLVs (empty without NLM_F_ACK_TLVS).</summary>
    public ReadOnlySpan<byte> Tlvs { get; }

    /// <summary>Parses an NLMSG_DONE message. A payload shorter than 4 bytes (very old kernels) reads as error 0.</summary>
    public static bool TryParse(NetlinkMessage message, out NetlinkDoneMessage done)
    {
        done = default;
        if (message.Type != NetlinkMessageType.Done) return false;
        ReadOnlySpan<byte> p = message.Payload;
        if (p.Length < 4)
        {
            done = new NetlinkDoneMessage(0, default);
            return true;
        }
        done = new NetlinkDoneMessage(MemoryMarshal.Read<int>(p), (message.Flags & NetlinkMessageFlags.AckTlvs) != 0 ? p[4..] : default);
        return true;
    }

    /// <summary>Decodes the extended-ack TLVs.</summary>
    public NetlinkExtendedAck GetExtendedAck() => NetlinkExtendedAck.Parse(Tlvs);
}
