using System.Globalization;
using System.Text.RegularExpressions;
using Uvdpa.Vdpa.Netlink;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management.Tests;

/// <summary>One sendto/recvmsg of the capture: the datagram bytes rebuilt from strace's decoding.</summary>
public sealed record CapturedDatagram(string Kernel, string Command, int Index, bool Sent, byte[] Bytes)
{
    public override string ToString() => $"{Kernel} '{Command}' #{Index} {(Sent ? "send" : "recv")} ({Bytes.Length} bytes)";
}

/// <summary>Rebuilds netlink datagrams from `strace -xx` lines of iproute2 (see golden/README.md).</summary>
public static partial class StraceCapture
{
    public static readonly string GoldenDir = Path.Combine(AppContext.BaseDirectory, "golden");

    private static readonly Dictionary<string, List<CapturedDatagram>> Cache = [];

    public static IReadOnlyList<CapturedDatagram> Load(string kernel)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(kernel, out List<CapturedDatagram>? c)) return c;
            var list = new List<CapturedDatagram>();
            string command = "";
            int index = 0;
            foreach (string line in File.ReadLines(Path.Combine(GoldenDir, $"kernel-{kernel}-vdpa-wire.strace.txt")))
            {
                if (line.StartsWith("### ", StringComparison.Ordinal))
                {
                    command = line[4..];
                    index = 0;
                    continue;
                }
                if (line.StartsWith("sendto(", StringComparison.Ordinal))
                    list.Add(new CapturedDatagram(kernel, command, index++, true, ParseSend(line)));
                else if (line.StartsWith("recvmsg(", StringComparison.Ordinal))
                    list.Add(new CapturedDatagram(kernel, command, index++, false, ParseRecv(line)));
            }
            Cache[kernel] = list;
            return list;
        }
    }

    public static IEnumerable<CapturedDatagram> All() => Load("6.12");

    public static IReadOnlyList<CapturedDatagram> ForCommand(string kernel, string command) =>
        Load(kernel).Where(d => d.Command == command).ToList();

    private static byte[] ParseSend(string line)
    {
        Match m = SendRegex().Match(line);
        if (!m.Success) throw new FormatException("unrecognised sendto line: " + line);
        byte[] bytes = BuildDatagram(m.Groups[1].Value);
        Assert.Equal(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), bytes.Length);
        return bytes;
    }

    private static byte[] ParseRecv(string line)
    {
        int start = line.IndexOf("iov_base=", StringComparison.Ordinal) + "iov_base=".Length;
        int end = line.LastIndexOf(", iov_len=", StringComparison.Ordinal);
        byte[] bytes = BuildDatagram(line[start..end]);
        Match r = ReturnRegex().Match(line);
        Assert.Equal(int.Parse(r.Groups[1].Value, CultureInfo.InvariantCulture), bytes.Length);
        return bytes;
    }

    private static byte[] BuildDatagram(string text)
    {
        var headers = HeaderRegex().Matches(text).Where(h => !text[..h.Index].EndsWith("msg=", StringComparison.Ordinal)).ToList();
        var output = new List<byte>();
        for (int i = 0; i < headers.Count; i++)
        {
            Match h = headers[i];
            int segEnd = i + 1 < headers.Count ? headers[i + 1].Index : text.Length;
            string segment = text[(h.Index + h.Length)..segEnd];
            NlMsgHeader header = ParseHeader(h);
            var msg = new List<byte>(new byte[16]);
            if (header.Type == NetlinkMessageType.Error)
            {
                Match e = ErrorRegex().Match(segment);
                int err = e.Groups[1].Value == "0" ? 0 : -ErrnoByName(e.Groups[1].Value[1..]);
                msg.AddRange(BitConverter.GetBytes(err));
                Match echoed = HeaderRegex().Match(segment);
                var eh = new byte[16];
                ParseHeader(echoed).Write(eh);
                msg.AddRange(eh);
                foreach (Match t in TlvRegex().Matches(segment))
                {
                    int len = int.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture);
                    ushort type = ParseTlvType(t.Groups[2].Value);
                    byte[] payload = t.Groups[3].Value.StartsWith('"')
                        ? Hex(t.Groups[3].Value)
                        : BitConverter.GetBytes(uint.Parse(t.Groups[3].Value, CultureInfo.InvariantCulture));
                    var tlv = new byte[NL.AlignAttribute(len)];
                    BitConverter.GetBytes((ushort)len).CopyTo(tlv, 0);
                    BitConverter.GetBytes(type).CopyTo(tlv, 2);
                    payload.AsSpan(0, Math.Min(payload.Length, len - 4)).CopyTo(tlv.AsSpan(4));
                    msg.AddRange(tlv);
                }
            }
            else if (header.Type == NetlinkMessageType.Done)
            {
                Match v = IntRegex().Match(segment);
                msg.AddRange(BitConverter.GetBytes(int.Parse(v.Groups[1].Value, CultureInfo.InvariantCulture)));
            }
            else
            {
                Match s = StringRegex().Match(segment);
                msg.AddRange(Hex(s.Value));
            }
            Assert.Equal((int)header.Length, msg.Count);
            byte[] arr = [.. msg];
            header.Write(arr);
            output.AddRange(arr);
            while (output.Count % 4 != 0 && i + 1 < headers.Count) output.Add(0);
        }
        return [.. output];
    }

    private static NlMsgHeader ParseHeader(Match h) => new(
        uint.Parse(h.Groups[1].Value, CultureInfo.InvariantCulture),
        ParseType(h.Groups[2].Value),
        ParseFlags(h.Groups[3].Value),
        uint.Parse(h.Groups[4].Value, CultureInfo.InvariantCulture),
        uint.Parse(h.Groups[5].Value, CultureInfo.InvariantCulture));

    private static ushort ParseType(string s) => s switch
    {
        "NLMSG_ERROR" => NetlinkMessageType.Error,
        "NLMSG_DONE" => NetlinkMessageType.Done,
        "NLMSG_NOOP" => NetlinkMessageType.Noop,
        _ => Convert.ToUInt16(s.Split(' ')[0], 16),
    };

    private static NetlinkMessageFlags ParseFlags(string s)
    {
        NetlinkMessageFlags f = 0;
        foreach (string part in s.Split('|'))
        {
            f |= part switch
            {
                "0" => 0,
                "NLM_F_REQUEST" => NetlinkMessageFlags.Request,
                "NLM_F_MULTI" => NetlinkMessageFlags.Multi,
                "NLM_F_ACK" => NetlinkMessageFlags.Ack,
                "NLM_F_CAPPED" => NetlinkMessageFlags.Capped,
                "NLM_F_ACK_TLVS" => NetlinkMessageFlags.AckTlvs,
                _ when part.StartsWith("0x", StringComparison.Ordinal) => (NetlinkMessageFlags)Convert.ToUInt16(part, 16),
                _ => throw new FormatException("unknown flag " + part),
            };
        }
        return f;
    }

    private static ushort ParseTlvType(string s)
    {
        ushort t = 0;
        foreach (string part in s.Split('|'))
        {
            t |= part switch
            {
                "NLA_F_NESTED" => NL.AttributeNested,
                "NLMSGERR_ATTR_MSG" => (ushort)NetlinkErrorAttribute.Message,
                "NLMSGERR_ATTR_OFFS" => (ushort)NetlinkErrorAttribute.Offset,
                "NLMSGERR_ATTR_COOKIE" => (ushort)NetlinkErrorAttribute.Cookie,
                "NLMSGERR_ATTR_POLICY" => (ushort)NetlinkErrorAttribute.Policy,
                "NLMSGERR_ATTR_MISS_TYPE" => (ushort)NetlinkErrorAttribute.MissingType,
                "NLMSGERR_ATTR_MISS_NEST" => (ushort)NetlinkErrorAttribute.MissingNest,
                _ => throw new FormatException("unknown TLV type " + part),
            };
        }
        return t;
    }

    public static int ErrnoByName(string name) => name switch
    {
        "EOPNOTSUPP" => Errno.EOPNOTSUPP,
        "ERANGE" => Errno.ERANGE,
        "ENODEV" => Errno.ENODEV,
        "EEXIST" => Errno.EEXIST,
        "EINVAL" => Errno.EINVAL,
        "ENOENT" => Errno.ENOENT,
        "EPERM" => Errno.EPERM,
        _ => throw new FormatException("unknown errno " + name),
    };

    public static byte[] Hex(string quoted) =>
        HexByteRegex().Matches(quoted).Select(m => Convert.ToByte(m.Groups[1].Value, 16)).ToArray();

    [GeneratedRegex(@"^sendto\(\d+, \[(.*)\], (\d+), 0, \{sa_family=AF_NETLINK")]
    private static partial Regex SendRegex();

    [GeneratedRegex(@"\) = (\d+)$")]
    private static partial Regex ReturnRegex();

    [GeneratedRegex(@"\{nlmsg_len=(\d+), nlmsg_type=([^,]+), nlmsg_flags=([^,]+), nlmsg_seq=(\d+), nlmsg_pid=(\d+)\}")]
    private static partial Regex HeaderRegex();

    [GeneratedRegex(@"\{error=(0|-E[A-Z]+), msg=")]
    private static partial Regex ErrorRegex();

    [GeneratedRegex(@"\{nla_len=(\d+), nla_type=([A-Z_|]+)\}, (""(?:\\x[0-9a-f]{2})*""|\d+)")]
    private static partial Regex TlvRegex();

    [GeneratedRegex(@"^, (-?\d+)")]
    private static partial Regex IntRegex();

    [GeneratedRegex(@"""(?:\\x[0-9a-f]{2})*""")]
    private static partial Regex StringRegex();

    [GeneratedRegex(@"\\x([0-9a-f]{2})")]
    private static partial Regex HexByteRegex();
}
