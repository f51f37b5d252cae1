using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Netlink.Tests;

internal static class TestUtil
{
    /// <summary>Zeroes the attribute padding of every generic netlink message in a datagram (top-level attributes), so that iproute2's stale pad bytes compare equal to our zeroed ones.</summary>
    public static byte[] MaskPadding(byte[] datagram)
    {
        byte[] copy = (byte[])datagram.Clone();
        int offset = 0;
        foreach (NetlinkMessage m in NetlinkParser.Messages(datagram))
        {
            int attrStart = offset + Netlink.MessageHeaderSize + Netlink.GenlHeaderSize;
            if (m.Type >= NetlinkMessageType.MinType && m.Raw.Length >= Netlink.MessageHeaderSize + Netlink.GenlHeaderSize)
            {
                foreach (NetlinkAttribute a in NetlinkParser.Attributes(m.Raw[(Netlink.MessageHeaderSize + Netlink.GenlHeaderSize)..]))
                {
                    int end = attrStart + a.Offset + a.Length;
                    int aligned = attrStart + a.Offset + Netlink.AlignAttribute(a.Length);
                    for (int i = end; i < aligned && i < offset + m.Raw.Length; i++) copy[i] = 0;
                }
            }
            offset += Netlink.AlignMessage(m.Raw.Length);
        }
        return copy;
    }

    public static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b).ToLowerInvariant();

    public static NlMsgHeader Header(byte[] datagram) => NlMsgHeader.Read(datagram);
}
