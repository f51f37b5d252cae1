using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// struct nlmsghdr (include/uapi/linux/netlink.h): 16 bytes, host byte order.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Netlink.MessageHeaderSize)]
public struct NlMsgHeader : IEquatable<NlMsgHeader>
{
    /// <summary>nlmsg_len: length of the message including this header (padding of the last attribute included, trailing message padding not).</summary>
    public uint Length;

    /// <summary>nlmsg_type: a control type (<see cref="NetlinkMessageType"/>) or the genetlink family id.</summary>
    public ushort Type;

    /// <summary>nlmsg_flags.</summary>
    public NetlinkMessageFlags Flags;

    /// <summary>nlmsg_seq: echoed by replies.</summary>
    public uint Sequence;

    /// <summary>nlmsg_pid: sender port id (0 from the kernel in requests; replies carry the requester's port id).</summary>
    public uint PortId;

    /// <summary>Creates a header.</summary>
    public NlMsgHeader(uint length, ushort type, NetlinkMessageFlags flags, uint sequence, uint portId)
    {
        Length = length;
        Type = type;
        Flags = flags;
        Sequence = sequence;
        PortId = portId;
    }

    /// <summary>Reads a header from the first 16 bytes of <paramref name="source"/>.</summary>
    /// <exception cref="NetlinkFormatException">Fewer than 16 bytes.</exception>
    public static NlMsgHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Netlink.MessageHeaderSize)
            throw new NetlinkFormatException($"nlmsghdr truncated: {source.Length} of {Netlink.MessageHeaderSize} bytes");
        return MemoryMarshal.Read<NlMsgHeader>(source);
    }

    /// <summary>Writes the header to the first 16 bytes of <paramref name="destination"/>.</summary>
    public readonly void Write(Span<byte> destination) => MemoryMarshal.Write(destination, in this);

    /// <inheritdoc />
    public readonly bool Equals(NlMsgHeader other) =>
        Length == other.Length && Type == other.Type && Flags == other.Flags && Sequence == other.Sequence && PortId == other.PortId;

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is NlMsgHeader h && Equals(h);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Length, Type, Flags, Sequence, PortId);

    /// <summary>Field-wise equality.</summary>
    public static bool operator ==(NlMsgHeader left, NlMsgHeader right) => left.Equals(right);

    /// <summary>Field-wise inequality.</summary>
    public static bool operator !=(NlMsgHeader left, NlMsgHeader right) => !left.Equals(right);

    /// <inheritdoc />
    public override readonly string ToString() =>
        $"{{len={Length}, type=0x{Type:x}, flags=0x{(ushort)Flags:x}, seq={Sequence}, pid={PortId}}}";
}
