using System.Buffers.Binary;
using System.Net;

namespace Uvdpa.Conformance.Tests.Traffic;

/// <summary>
/// Plausible Ethernet frames of an exact length, as the capture's <c>send.py</c> produced them: UDP/IPv4 datagrams
/// through the IP stack (14 + 20 + 8 + payload bytes, payload byte i = i &amp; 0xff) and raw AF_PACKET frames
/// (destination, source = interface MAC, ethertype, zero body). Only the destination and the length matter to the
/// simulator's counters; the rest is there so the frames look like what the kernel sent.
/// </summary>
internal static class Frames
{
    public const int EthernetHeader = 14;
    public const int Ipv4Header = 20;
    public const int UdpHeader = 8;
    public const ushort EtherTypeIpv4 = 0x0800;

    /// <summary>The multicast MAC of an IPv4 group (RFC 1112: 01:00:5e + the low 23 bits).</summary>
    public static byte[] MulticastMac(IPAddress group)
    {
        var ip = group.GetAddressBytes();
        return [0x01, 0x00, 0x5e, (byte)(ip[1] & 0x7f), ip[2], ip[3]];
    }

    public static byte[] Udp(byte[] dst, byte[] src, IPAddress srcIp, IPAddress dstIp, ushort srcPort, ushort dstPort, int payload, byte ttl)
    {
        var f = new byte[EthernetHeader + Ipv4Header + UdpHeader + payload];
        WriteEthernet(f, dst, src, EtherTypeIpv4);
        var ip = f.AsSpan(EthernetHeader, Ipv4Header);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4Header + UdpHeader + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF
        ip[8] = ttl;
        ip[9] = 17; // UDP
        srcIp.GetAddressBytes().CopyTo(ip[12..]);
        dstIp.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        var udp = f.AsSpan(EthernetHeader + Ipv4Header, UdpHeader);
        BinaryPrimitives.WriteUInt16BigEndian(udp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(UdpHeader + payload));
        for (int i = 0; i < payload; i++) f[EthernetHeader + Ipv4Header + UdpHeader + i] = (byte)i;
        return f;
    }

    public static byte[] Raw(byte[] dst, byte[] src, ushort etherType, int length)
    {
        var f = new byte[length];
        WriteEthernet(f, dst, src, etherType);
        return f;
    }

    private static void WriteEthernet(Span<byte> f, byte[] dst, byte[] src, ushort etherType)
    {
        dst.CopyTo(f);
        src.CopyTo(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], etherType);
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
