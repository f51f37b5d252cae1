using System.Runtime.InteropServices;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>One netlink message (header + payload) inside a datagram.</summary>
public readonly ref struct NetlinkMessage
{
    /// <summary>Creates a view; <paramref name="raw"/> is the whole message (nlmsg_len bytes).</summary>
    public NetlinkMessage(NlMsgHeader header, ReadOnlySpan<byte> raw, int offset = 0)
    {
        Header = header;
        Raw = raw;
        Offset = offset;
    }

    /// <summary>The header.</summary>
    public NlMsgHeader Header { get; }

    /// <summary>The whole message, header included (nlmsg_len bytes).</summary>
    public ReadOnlySpan<byte> Raw { get; }

    /// <summary>The bytes after the header.</summary>
    public ReadOnlySpan<byte> Payload => Raw.Length >= Netlink.MessageHeaderSize ? Raw[Netlink.MessageHeaderSize..] : default;

    /// <summary>Offset of the message in the datagram it was read from.</summary>
    public int Offset { get; }

    /// <summary>nlmsg_type.</summary>
    public ushort Type => Header.Type;

    /// <summary>nlmsg_flags.</summary>
    public NetlinkMessageFlags Flags => Header.Flags;

    /// <summary>
    /// Reads the message at the start of <paramref name="buffer"/> (nlmsg_ok's checks). <paramref name="consumed"/>
    /// is NLMSG_ALIGN(nlmsg_len), capped at the buffer length (the last message may lack its padding).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> buffer, out NetlinkMessage message, out int consumed, out string? error)
    {
        message = default;
        consumed = 0;
        if (buffer.Length < Netlink.MessageHeaderSize)
        {
            error = $"nlmsghdr truncated: {buffer.Length} of {Netlink.MessageHeaderSize} bytes";
            return false;
        }
        NlMsgHeader header = MemoryMarshal.Read<NlMsgHeader>(buffer);
        if (header.Length < Netlink.MessageHeaderSize)
        {
            error = $"nlmsg_len {header.Length} is smaller than the header";
            return false;
        }
        if (header.Length > (uint)buffer.Length)
        {
            error = $"nlmsg_len {header.Length} exceeds the {buffer.Length} bytes left";
            return false;
        }
        int len = (int)header.Length;
        message = new NetlinkMessage(header, buffer[..len]);
        consumed = Math.Min(Netlink.AlignMessage(len), buffer.Length);
        error = null;
        return true;
    }

    /// <summary>Splits a generic netlink payload into its genlmsghdr and the attribute bytes after the family header.</summary>
    public bool TryGetGenl(out GenlMsgHeader genl, out ReadOnlySpan<byte> attributes, int familyHeaderSize = 0)
    {
        ReadOnlySpan<byte> p = Payload;
        if (familyHeaderSize < 0 || p.Length < Netlink.GenlHeaderSize + familyHeaderSize)
        {
            genl = default;
            attributes = default;
            return false;
        }
        genl = MemoryMarshal.Read<GenlMsgHeader>(p);
        attributes = p[(Netlink.GenlHeaderSize + Netlink.AlignMessage(familyHeaderSize))..];
        return true;
    }

    /// <summary>The genlmsghdr; <see cref="NetlinkFormatException"/> if the payload is too short.</summary>
    public GenlMsgHeader GenlHeader => GenlMsgHeader.Read(Payload);

    /// <summary>The attributes of a generic netlink message; <see cref="NetlinkFormatException"/> if the payload is too short.</summary>
    public NetlinkAttributeEnumerator GenlAttributes(int familyHeaderSize = 0) =>
        TryGetGenl(out _, out ReadOnlySpan<byte> attrs, familyHeaderSize)
            ? new NetlinkAttributeEnumerator(attrs)
            : throw new NetlinkFormatException($"generic netlink payload truncated: {Payload.Length} bytes", Offset);
}
