using System.Buffers;
using System.Globalization;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Virtio.Platform.Linux;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using NL = Uvdpa.Vdpa.Netlink.Netlink;

namespace Uvdpa.Vdpa.Management;

/// <summary>
/// Serves nlctrl (CTRL_CMD_GETFAMILY for "nlctrl", "vdpa", "uvdpa") and the families on one bus, like the kernel's
/// genetlink core (net/netlink/genetlink.c, af_netlink.c netlink_rcv_skb/netlink_ack/netlink_dump) and
/// drivers/vdpa/vdpa.c (Linux 6.12): one request datagram in (may hold several messages), reply datagrams out.
/// Thread-safe; many connections call it concurrently.
/// </summary>
/// <remarks>
/// Replies behave as if the peer set NETLINK_EXT_ACK and NETLINK_CAP_ACK (as iproute2 does) and carry the request's
/// nlmsg_pid (libmnl accepts 0 or its own port id). A doit reply and its ACK are separate datagrams; dumps are
/// NLM_F_MULTI batches of at most <see cref="MaxDatagramSize"/> bytes followed by NLMSG_DONE in a datagram of its
/// own (the vdpa dumpits return the batch length, so the kernel needs one more round to see the end).
/// </remarks>
public sealed class NetlinkService
{
    /// <summary>iproute2 reads 4096 bytes; dumps are split to fit.</summary>
    public const int MaxDatagramSize = 4096;

    /// <summary>nlmsg_new(NLMSG_DEFAULT_SIZE): the room a doit reply has (NLMSG_GOODSIZE on x86-64 with 4 KiB pages).</summary>
    internal const int DoitReplySize = 3776;

    /// <summary>The family id of "vdpa" (dynamic in the kernel; clients resolve it through nlctrl).</summary>
    public const ushort VdpaFamilyId = 0x1f;

    /// <summary>The family id of the "uvdpa" extension family.</summary>
    public const ushort UvdpaFamilyId = 0x20;

    private readonly GenlFamilyHandler[] _families;

    /// <summary>Serves nlctrl, "vdpa" and "uvdpa" over <paramref name="bus"/>.</summary>
    public NetlinkService(VdpaBus bus, ManagementOptions options)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        Bus = bus;
        Options = options;
        var vdpa = new VdpaFamilyHandler(this);
        var uvdpa = new UvdpaFamilyHandler(this);
        _families = [new CtrlFamilyHandler(this), vdpa, uvdpa];
    }

    /// <summary>The bus served.</summary>
    public VdpaBus Bus { get; }

    /// <summary>The options.</summary>
    public ManagementOptions Options { get; }

    internal IReadOnlyList<GenlFamilyHandler> Families => _families;

    /// <summary>
    /// netlink_rcv_skb: handles every message of <paramref name="datagram"/> in order. Messages without
    /// NLM_F_REQUEST and control messages are only ACKed (if asked); a truncated or malformed header ends the
    /// datagram silently. Never throws.
    /// </summary>
    public void HandleDatagram(ReadOnlySpan<byte> datagram, PeerCredentials peer, INetlinkReplySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var channel = new ReplyChannel(sink);
        try
        {
            int offset = 0;
            while (datagram.Length - offset >= NL.MessageHeaderSize && channel.Alive)
            {
                ReadOnlySpan<byte> rest = datagram[offset..];
                var header = NlMsgHeader.Read(rest);
                if (header.Length < NL.MessageHeaderSize || header.Length > (uint)rest.Length) return;
                ReadOnlySpan<byte> message = rest[..(int)header.Length];
                HandleMessage(message, header, peer, channel);
                offset += Math.Min(NL.AlignMessage((int)header.Length), rest.Length);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Never throw out of the service; a handler bug must not take the connection (or the daemon) down.
        }
    }

    /// <summary>Privileged = CAP_NET_ADMIN here: uid 0, <see cref="ManagementOptions.AllowAll"/>, or a member of an admin group.</summary>
    public bool IsPrivileged(PeerCredentials peer)
    {
        if (Options.AllowAll || peer.UserId == 0) return true;
        if (Options.AdminGroups.Count == 0) return false;
        if (Options.AdminGroups.Contains(peer.GroupId)) return true;
        foreach (uint g in SupplementaryGroups(peer.ProcessId))
            if (Options.AdminGroups.Contains(g)) return true;
        return false;
    }

    /// <summary>The "Groups:" line of /proc/&lt;pid&gt;/status (empty if unreadable).</summary>
    internal static IEnumerable<uint> SupplementaryGroups(int pid)
    {
        if (pid <= 0) return [];
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (!line.StartsWith("Groups:", StringComparison.Ordinal)) continue;
                var list = new List<uint>();
                foreach (string part in line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                    if (uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out uint g)) list.Add(g);
                return list;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return [];
    }

    private void HandleMessage(ReadOnlySpan<byte> message, NlMsgHeader header, PeerCredentials peer, ReplyChannel channel)
    {
        var extack = new ExtAck();
        int err = 0;
        bool dumped = false;
        // Only requests are handled; control messages are skipped (but ACKed when asked), as in netlink_rcv_skb.
        if ((header.Flags & NetlinkMessageFlags.Request) != 0 && header.Type >= NetlinkMessageType.MinType)
            err = ReceiveGenl(message, header, peer, channel, extack, out dumped);
        if (dumped || !channel.Alive) return; // a started dump answers with NLMSG_DONE instead of an ACK (-EINTR)
        if ((header.Flags & NetlinkMessageFlags.Ack) != 0 || err != 0)
            SendAck(message, header, err, extack, channel);
    }

    private static void SendAck(ReadOnlySpan<byte> message, NlMsgHeader header, int err, ExtAck extack, ReplyChannel channel)
    {
        var w = NetlinkWriter.CreateGrowable(64);
        try
        {
            if (NetlinkAckWriter.WriteAck(ref w, message, header.PortId, err, NetlinkAckOptions.Iproute2, extack.ToInfo()))
                channel.Send(w.WrittenSpan);
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>genl_rcv_msg + genl_family_rcv_msg.</summary>
    private int ReceiveGenl(ReadOnlySpan<byte> message, NlMsgHeader header, PeerCredentials peer, ReplyChannel channel, ExtAck extack, out bool dumped)
    {
        dumped = false;
        GenlFamilyHandler? family = Find(header.Type);
        if (family is null) return Errno.ENOENT;
        if (message.Length < NL.MessageHeaderSize + NL.GenlHeaderSize) return Errno.EINVAL;
        var genl = GenlMsgHeader.Read(message[NL.MessageHeaderSize..]);

        // genl_header_check: only commands at or above resv_start_op.
        if (genl.Command >= family.ReservedStartOp)
        {
            if (genl.Reserved != 0)
            {
                extack.Set("genlmsghdr.reserved field is not 0");
                return Errno.EINVAL;
            }
            var f = header.Flags;
            if ((f & NetlinkMessageFlags.Dump) == NetlinkMessageFlags.Dump) f &= ~NetlinkMessageFlags.Dump;
            if ((f & ~(NetlinkMessageFlags.Request | NetlinkMessageFlags.Ack | NetlinkMessageFlags.Echo)) != 0)
            {
                extack.Set("ambiguous or reserved bits set in nlmsg_flags");
                return Errno.EINVAL;
            }
        }

        bool dump = (header.Flags & NetlinkMessageFlags.Dump) == NetlinkMessageFlags.Dump;
        GenlOpFlags? opFlags = family.Info.GetOperationFlags(genl.Command);
        if (opFlags is null || (opFlags.Value & (dump ? GenlOpFlags.CmdCapDump : GenlOpFlags.CmdCapDo)) == 0)
            return Errno.EOPNOTSUPP;
        bool admin = (opFlags.Value & GenlOpFlags.AdminPerm) != 0;
        bool privileged = admin ? IsPrivileged(peer) : false;
        if (admin && !privileged) return Errno.EPERM;

        AttrPolicy[]? policy = family.Policy(genl.Command, dump);
        AttrRef[]? attrs = null;
        if (policy is not null)
        {
            attrs = new AttrRef[policy.Length];
            Array.Fill(attrs, AttrRef.None);
            int perr = AttributeValidator.Parse(message, NL.MessageHeaderSize + NL.GenlHeaderSize, policy, family.Strict(genl.Command, dump), attrs, extack);
            if (perr != 0) return perr;
        }

        var request = new GenlRequest
        {
            Message = message,
            Header = header,
            Genl = genl,
            Peer = peer,
            Privileged = privileged,
            Attrs = attrs,
            ExtAck = extack,
        };
        try
        {
            if (dump)
            {
                dumped = true;
                family.Dump(ref request, channel);
                return 0;
            }
            return family.Doit(ref request, channel);
        }
        catch (VdpaException e)
        {
            if (dumped)
            {
                SendDone(channel, header.Sequence, header.PortId);
                return 0;
            }
            if (e.Extack is not null) extack.Set(e.Extack);
            return e.Errno;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (dumped)
            {
                SendDone(channel, header.Sequence, header.PortId);
                return 0;
            }
            extack.Set($"uvdpa: internal error: {e.GetType().Name}");
            return Errno.EIO;
        }
    }

    private GenlFamilyHandler? Find(ushort id)
    {
        foreach (var f in _families)
            if (f.Info.Id == id) return f;
        return null;
    }

    internal GenlFamilyHandler? FindByName(string name)
    {
        foreach (var f in _families)
            if (f.Info.Name == name) return f;
        return null;
    }

    /// <summary>One dump round: fills <paramref name="buffer"/> from item <paramref name="start"/>; returns the bytes written and the next start.</summary>
    internal delegate (int Length, int Next) DumpRound(byte[] buffer, int start);

    /// <summary>netlink_dump: rounds until one writes nothing, each round one datagram; then NLMSG_DONE alone.</summary>
    internal static void RunDump(ReplyChannel channel, uint sequence, uint portId, DumpRound round)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxDatagramSize);
        try
        {
            int start = 0;
            while (true)
            {
                (int length, int next) = round(buffer, start);
                if (length == 0) break;
                if (!channel.Send(buffer.AsSpan(0, length))) return;
                start = next;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        SendDone(channel, sequence, portId);
    }

    /// <summary>IDeviceStore.Put under the bus lock; a failing store turns into a warning on the (successful) ACK.</summary>
    internal void StorePut(DeviceDefinition definition, ExtAck extack)
    {
        try
        {
            Options.Store?.Put(definition);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            extack.Set($"uvdpa: state not saved: {e.Message}");
        }
    }

    /// <summary>IDeviceStore.Remove under the bus lock.</summary>
    internal void StoreRemove(string name, ExtAck extack)
    {
        try
        {
            Options.Store?.Remove(name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            extack.Set($"uvdpa: state not saved: {e.Message}");
        }
    }

    internal static void SendDone(ReplyChannel channel, uint sequence, uint portId)
    {
        Span<byte> done = stackalloc byte[32];
        var w = new NetlinkWriter(done);
        if (NetlinkAckWriter.WriteDone(ref w, sequence, portId)) channel.Send(w.WrittenSpan);
    }
}
