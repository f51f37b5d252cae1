using System.Buffers.Binary;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli;

/// <summary>What a data callback tells the receive loop (libmnl's MNL_CB_ERROR / STOP / OK).</summary>
internal enum CallbackResult
{
    Error = -1,
    Stop = 0,
    Ok = 1,
}

/// <summary>A data callback: one family message (header and the attribute bytes after the genlmsghdr).</summary>
internal delegate CallbackResult MessageCallback(NlMsgHeader header, ReadOnlySpan<byte> attributes);

/// <summary>
/// iproute2's mnlu_gen_socket (lib/mnl_utils.c) over an <see cref="INetlinkTransport"/>: the family is resolved with
/// <see cref="VdpaClient.ResolveFamily"/>, requests are written with <see cref="VdpaRequestWriter"/>, and replies are
/// run through the same loop as libmnl's mnl_cb_run2 with iproute2's control callbacks, so each reply message is
/// printed as it arrives, extended-ack text is printed as <c>Error: …</c> / <c>Warning: …</c> and a failure ends with
/// <c>kernel answers: &lt;strerror&gt;</c>.
/// </summary>
internal sealed class GenlSocket
{
    private readonly INetlinkTransport _transport;
    private readonly TextWriter _stderr;
    private readonly Func<uint> _clock;

    private GenlSocket(INetlinkTransport transport, TextWriter stderr, Func<uint> clock, GenlFamilyInfo family)
    {
        _transport = transport;
        _stderr = stderr;
        _clock = clock;
        Family = family;
    }

    /// <summary>The resolved family.</summary>
    public GenlFamilyInfo Family { get; }

    /// <summary>genlmsghdr.version of requests: iproute2 6.10+ sends the family version it was opened with (VDPA_GENL_VERSION = 1).</summary>
    public byte Version { get; init; } = VdpaFamily.Version;

    /// <summary>mnlu_gen_socket_open: resolves <paramref name="familyName"/>; null when the lookup fails in any way.</summary>
    public static GenlSocket? Open(INetlinkTransport transport, string familyName, TextWriter stderr, Func<uint> clock)
    {
        try
        {
            GenlFamilyInfo family = VdpaClient.ResolveFamily(transport, familyName, clock());
            return new GenlSocket(transport, stderr, clock, family);
        }
        catch (Exception e) when (e is VdpaNetlinkException or NetlinkTransportException or NetlinkFormatException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>Builds a request (mnlu_gen_socket_cmd_prepare + vdpa_opts_put): seq = time(NULL).</summary>
    public byte[] Prepare(byte command, NetlinkMessageFlags flags, VdpaRequestAttributes attributes)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            VdpaRequestWriter.Write(ref w, Family.Id, command, flags, _clock(), attributes, Version);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>mnlu_gen_socket_sndrcv: 0 on success, −errno after printing "kernel answers: …".</summary>
    public int SendReceive(byte[] request, MessageCallback? callback)
    {
        uint seq = NlMsgHeader.Read(request).Sequence;
        try
        {
            _transport.Send(request);
        }
        catch (NetlinkTransportException e)
        {
            int errno = e.Errno != 0 ? e.Errno : Errno.EIO;
            _stderr.Write($"Failed to send data: {StrError(errno)}\n");
            return -errno;
        }

        int err;
        int lastErrno = 0;
        do
        {
            ReadOnlySpan<byte> datagram;
            try
            {
                datagram = _transport.Receive();
            }
            catch (NetlinkTransportException e)
            {
                // recvfrom failed; a peer that went away counts as a reset connection.
                lastErrno = e.Errno != 0 ? e.Errno : ECONNRESET;
                err = -1;
                break;
            }
            err = Run(datagram, seq, callback, ref lastErrno);
        }
        while (err > 0);

        if (err < 0)
        {
            _stderr.Write($"kernel answers: {StrError(lastErrno)}\n");
            return -(lastErrno == 0 ? Errno.EIO : lastErrno);
        }
        return 0;
    }

    /// <summary>glibc strerror for the errno values the tool can meet.</summary>
    public static string StrError(int errno) => errno switch
    {
        ESRCH => "No such process",
        ECONNRESET => "Connection reset by peer",
        _ => Errno.Describe(errno),
    };

    private const int ESRCH = 3;
    private const int ECONNRESET = 104;

    // mnl_cb_run2 with iproute2's mnlu_cb_array. Port ids are not checked: the vdpad transport has none, and the
    // kernel only ever sends ours or 0.
    private int Run(ReadOnlySpan<byte> datagram, uint seq, MessageCallback? callback, ref int errno)
    {
        int ret = (int)CallbackResult.Ok;
        int offset = 0;
        while (NetlinkMessage.TryRead(datagram[offset..], out NetlinkMessage m, out int consumed, out _))
        {
            NlMsgHeader h = m.Header;
            if (h.Sequence != 0 && seq != 0 && h.Sequence != seq)
            {
                errno = Errno.EPROTO;
                return -1;
            }
            if ((h.Flags & NetlinkMessageFlags.DumpInterrupted) != 0)
            {
                errno = Errno.EINTR;
                return -1;
            }
            if (h.Type >= NetlinkMessageType.MinType)
            {
                if (callback is not null)
                {
                    ReadOnlySpan<byte> payload = m.Payload;
                    // mnl_attr_parse(nlh, sizeof(genlmsghdr)): attributes start after the 4-byte genl header.
                    ReadOnlySpan<byte> attrs = payload.Length >= Netlink.Netlink.GenlHeaderSize ? payload[Netlink.Netlink.GenlHeaderSize..] : default;
                    ret = (int)callback(h, attrs);
                    if (ret <= 0) return ret;
                }
            }
            else if (h.Type == NetlinkMessageType.Error)
            {
                ret = OnError(m, ref errno);
                if (ret <= 0) return ret;
            }
            else if (h.Type == NetlinkMessageType.Done)
            {
                ret = OnDone(m, ref errno);
                if (ret <= 0) return ret;
            }
            offset += consumed;
            if (offset >= datagram.Length) break;
        }
        return ret;
    }

    // mnlu_cb_error + nl_dump_ext_ack.
    private int OnError(NetlinkMessage m, ref int errno)
    {
        ReadOnlySpan<byte> p = m.Payload;
        if (p.Length < Netlink.Netlink.ErrorPayloadSize) return (int)CallbackResult.Stop;
        int error = BinaryPrimitives.ReadInt32LittleEndian(p);
        errno = error < 0 ? -error : error;
        if (DumpExtAck(m, error) != 0) return (int)CallbackResult.Error;
        return error == 0 ? (int)CallbackResult.Stop : (int)CallbackResult.Error;
    }

    // mnlu_cb_stop + nl_dump_ext_ack_done.
    private int OnDone(NetlinkMessage m, ref int errno)
    {
        ReadOnlySpan<byte> p = m.Payload;
        if (p.Length < 4) return (int)CallbackResult.Stop;
        int len = BinaryPrimitives.ReadInt32LittleEndian(p);
        if (len >= 0) return (int)CallbackResult.Stop;
        errno = -len;
        if (TryParseExtAck(p[4..], out string? msg, out _, out _) && !string.IsNullOrEmpty(msg))
            PrintExtAckMessage(isError: true, msg);
        return (int)CallbackResult.Error;
    }

    private int DumpExtAck(NetlinkMessage m, int error)
    {
        NlMsgHeader h = m.Header;
        if ((h.Flags & NetlinkMessageFlags.AckTlvs) == 0) return 0;
        ReadOnlySpan<byte> p = m.Payload;
        int hlen = Netlink.Netlink.ErrorPayloadSize;
        if ((h.Flags & NetlinkMessageFlags.Capped) == 0)
        {
            uint innerLen = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            hlen += (int)Math.Min(innerLen - Math.Min(innerLen, 16u), int.MaxValue / 2);
        }
        hlen = Netlink.Netlink.AlignAttribute(hlen);
        if (hlen > p.Length) return 0;
        if (!TryParseExtAck(p[hlen..], out string? msg, out uint? offs, out uint? missType)) return 0;
        if (offs is uint off && off > h.Length) _stderr.Write("Invalid offset for NLMSGERR_ATTR_OFFS\n");
        if (missType is uint mt) _stderr.Write($"Missing required attribute type {mt}\n");
        if (!string.IsNullOrEmpty(msg))
        {
            bool isError = error != 0;
            PrintExtAckMessage(isError, msg);
            return isError ? 1 : 0;
        }
        return 0;
    }

    // mnl_attr_parse with iproute2's err_attr_cb (NLMSGERR_ATTR_MAX = 6; MSG must be a NUL string, OFFS a u32).
    private bool TryParseExtAck(ReadOnlySpan<byte> tlvs, out string? msg, out uint? offs, out uint? missType)
    {
        msg = null;
        offs = null;
        missType = null;
        foreach (RawAttribute a in RawAttribute.Enumerate(tlvs))
        {
            int type = a.RawType & Netlink.Netlink.AttributeTypeMask;
            if (type > (int)NetlinkErrorAttribute.MissingNest)
            {
                _stderr.Write("Invalid extack attribute\n");
                return false;
            }
            bool valid = type switch
            {
                (int)NetlinkErrorAttribute.Message => a.Payload.Length > 0 && a.Payload[^1] == 0,
                (int)NetlinkErrorAttribute.Offset => a.Payload.Length == 4,
                _ => true,
            };
            if (!valid)
            {
                _stderr.Write($"extack attribute {type} failed validation\n");
                return false;
            }
            switch (type)
            {
                case (int)NetlinkErrorAttribute.Message: msg = AttributeTable.CString(a.Payload); break;
                case (int)NetlinkErrorAttribute.Offset: offs = (uint)AttributeTable.ReadLittle(a.Payload, 4); break;
                case (int)NetlinkErrorAttribute.MissingType: missType = (uint)AttributeTable.ReadLittle(a.Payload, 4); break;
            }
        }
        return true;
    }

    // print_ext_ack_msg: a period is added unless the text ends with one.
    private void PrintExtAckMessage(bool isError, string msg)
    {
        string dot = msg.EndsWith('.') ? "" : ".";
        _stderr.Write($"{(isError ? "Error" : "Warning")}: {msg}{dot}\n");
    }
}
