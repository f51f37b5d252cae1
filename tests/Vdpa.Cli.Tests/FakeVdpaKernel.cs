using System.Buffers.Binary;
using Uvdpa.Vdpa.Netlink;

namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>
/// A stand-in for Linux 6.12's vdpa family with vdpasim_net, vdpasim_blk and an idle vduse parent, written from
/// the reference (§1–§2) and the 6.12 captures: the same reply attributes in the same order, the same errno and
/// extack texts, replies split into datagrams as the kernel sends them (doit reply, then the ACK; a dump's
/// messages, then NLMSG_DONE). It answers one request datagram at a time.
/// </summary>
public sealed class FakeVdpaKernel
{
    public const ushort FamilyId = 0x13;
    public const uint PortId = 111;

    // Spec: VIRTIO 1.3 feature bits as the 6.12 simulators report them (tests/golden/README.md).
    public const ulong NetDeviceFeatures = 0x308830028;
    public const ulong NetNegotiated = 0x300830028;
    public const ulong BlkDeviceFeatures = 0x308007646;
    public const ulong BlkNegotiated = 0x300007646;

    private const ulong MaskMac = 1UL << (int)VdpaAttr.DevNetCfgMacAddr;
    private const ulong MaskMaxVqp = 1UL << (int)VdpaAttr.DevNetCfgMaxVqp;
    private const ulong MaskMtu = 1UL << (int)VdpaAttr.DevNetCfgMtu;
    private const ulong MaskFeatures = 1UL << (int)VdpaAttr.DevFeatures;

    private sealed record Mgmtdev(string? Bus, string Name, ulong Classes, uint MaxVqs, ulong Features, ulong AttrMask, bool CanAdd);

    private sealed class Device
    {
        public required string Name { get; init; }
        public required Mgmtdev Parent { get; init; }
        public uint Id { get; init; }
        public uint MaxVqs { get; init; }
        public byte[] Mac { get; set; } = new byte[6];
        public ushort Mtu { get; set; } = 1500;
        public ulong Features { get; init; }
        public ulong Negotiated { get; init; }
    }

    private readonly List<Mgmtdev> _mgmtdevs =
    [
        new(null, "vdpasim_net", 1UL << 1, 3, NetDeviceFeatures, MaskMac | MaskMtu | MaskFeatures, true),
        new(null, "vdpasim_blk", 1UL << 2, 0, 0, MaskFeatures, true),
        new(null, "vduse", (1UL << 1) | (1UL << 2), 0, 0, MaskMac | MaskMtu | MaskMaxVqp | MaskFeatures, false),
    ];

    private readonly List<Device> _devices = [];

    /// <summary>Every request seen, in order.</summary>
    public List<byte[]> Requests { get; } = [];

    public FuncTransport CreateTransport() => new(Handle);

    public IReadOnlyList<byte[]> Handle(byte[] request)
    {
        Requests.Add(request);
        NlMsgHeader h = NlMsgHeader.Read(request);
        ReadOnlySpan<byte> payload = request.AsSpan(16, (int)h.Length - 16);
        byte cmd = payload[0];
        NetlinkAttributeList attrs = NetlinkAttributeList.Parse(request.AsMemory(20, (int)h.Length - 20));
        if (h.Type == Netlink.Netlink.GenlIdCtrl)
        {
            string? name = GenlCtrl.ReadRequestedFamilyName(payload[4..]);
            if (cmd != (byte)CtrlCommand.GetFamily || name != VdpaFamily.Name) return [Ack(request, Errno.ENOENT)];
            var w = NetlinkWriter.CreateGrowable();
            try
            {
                GenlCtrl.WriteFamilyReply(ref w, VdpaFamily.Describe(FamilyId), h.Sequence, PortId);
                return [w.ToArray(), Ack(request, 0)];
            }
            finally
            {
                w.Dispose();
            }
        }
        if (h.Type != FamilyId) return [Ack(request, Errno.EINVAL)];
        bool dump = (h.Flags & NetlinkMessageFlags.Dump) == NetlinkMessageFlags.Dump;
        return (VdpaCommand)cmd switch
        {
            VdpaCommand.MgmtdevGet => dump ? Dump(h, _mgmtdevs, VdpaCommand.MgmtdevNew, WriteMgmtdev) : MgmtdevGet(request, attrs),
            VdpaCommand.DevNew => [DevNew(request, attrs)],
            VdpaCommand.DevDel => [DevDel(request, attrs)],
            VdpaCommand.DevGet => dump ? Dump(h, _devices, VdpaCommand.DevNew, WriteDev) : DeviceDoit(request, attrs, VdpaCommand.DevNew, WriteDev),
            VdpaCommand.DevConfigGet => dump ? Dump(h, _devices, VdpaCommand.DevConfigGet, WriteConfig) : DeviceDoit(request, attrs, VdpaCommand.DevConfigGet, WriteConfig),
            VdpaCommand.DevVstatsGet => Vstats(request, attrs),
            VdpaCommand.DevAttrSet => [AttrSet(request, attrs)],
            _ => [Ack(request, Errno.EOPNOTSUPP)],
        };
    }

    private IReadOnlyList<byte[]> MgmtdevGet(byte[] request, NetlinkAttributeList attrs)
    {
        Mgmtdev? m = FindMgmtdev(attrs);
        if (m is null) return [Ack(request, attrs.Contains((ushort)VdpaAttr.MgmtdevDevName) ? Errno.ENODEV : Errno.EINVAL, "vdpa: Fail to find the specified mgmt device")];
        return [Message(NlMsgHeader.Read(request), VdpaCommand.MgmtdevNew, (ref NetlinkWriter w) => WriteMgmtdev(ref w, m)), Ack(request, 0)];
    }

    private byte[] DevNew(byte[] request, NetlinkAttributeList a)
    {
        string? name = a.GetString((ushort)VdpaAttr.DevName);
        if (name is null) return Ack(request, Errno.EINVAL);
        ulong mask = 0;
        if (a.TryGet((ushort)VdpaAttr.DevNetCfgMacAddr, out NetlinkAttributeValue mac))
        {
            if (mac.Payload.Length != 6) return Ack(request, Errno.ERANGE, "binary attribute size out of range");
            mask |= MaskMac;
        }
        if (a.GetU16((ushort)VdpaAttr.DevNetCfgMtu) is ushort mtu)
        {
            if (mtu < 68) return Ack(request, Errno.ERANGE, "integer out of range");
            mask |= MaskMtu;
        }
        if (a.GetU16((ushort)VdpaAttr.DevNetCfgMaxVqp) is ushort vqp)
        {
            if (vqp == 0) return Ack(request, Errno.EINVAL, "vdpa: At least one pair of VQs is required");
            mask |= MaskMaxVqp;
        }
        ulong? features = a.GetU64((ushort)VdpaAttr.DevFeatures);
        if (features is ulong f)
        {
            mask |= MaskFeatures;
            ulong missing = 0;
            if ((mask & MaskMac) != 0 && (f & (1UL << 5)) == 0) missing |= 1UL << 5;
            if ((mask & MaskMtu) != 0 && (f & (1UL << 3)) == 0) missing |= 1UL << 3;
            if (missing != 0) return Ack(request, Errno.EINVAL, $"vdpa: Missing features 0x{missing:x} for provided attributes");
        }
        Mgmtdev? m = FindMgmtdev(a);
        if (m is null) return Ack(request, a.Contains((ushort)VdpaAttr.MgmtdevDevName) ? Errno.ENODEV : Errno.EINVAL, "vdpa: Fail to find the specified management device");
        if ((mask & m.AttrMask) != mask) return Ack(request, Errno.EOPNOTSUPP, $"vdpa: Some provided attributes are not supported: 0x{mask & ~m.AttrMask:x}");
        if ((mask & (MaskMac | MaskMtu | MaskMaxVqp)) != 0 && (m.Classes & 2) == 0)
            return Ack(request, Errno.EINVAL, "vdpa: Network class attributes provided on unsupported management device");
        if (!m.CanAdd) return Ack(request, Errno.EINVAL);
        if (_devices.Exists(d => d.Name == name)) return Ack(request, Errno.EEXIST);
        bool net = (m.Classes & 2) != 0;
        var dev = new Device
        {
            Name = name,
            Parent = m,
            Id = net ? 1u : 2u,
            MaxVqs = net ? 3u : 1u,
            Features = features ?? (net ? NetDeviceFeatures : BlkDeviceFeatures),
            Negotiated = features is ulong ff ? ff & (net ? NetNegotiated : BlkNegotiated) : net ? NetNegotiated : BlkNegotiated,
        };
        if (a.GetBinary((ushort)VdpaAttr.DevNetCfgMacAddr) is byte[] macBytes) dev.Mac = macBytes;
        if (a.GetU16((ushort)VdpaAttr.DevNetCfgMtu) is ushort mtu2) dev.Mtu = mtu2;
        _devices.Add(dev);
        return Ack(request, 0);
    }

    private byte[] DevDel(byte[] request, NetlinkAttributeList a)
    {
        string? name = a.GetString((ushort)VdpaAttr.DevName);
        if (name is null) return Ack(request, Errno.EINVAL);
        int i = _devices.FindIndex(d => d.Name == name);
        if (i < 0) return Ack(request, Errno.ENODEV, "vdpa: device not found");
        _devices.RemoveAt(i);
        return Ack(request, 0);
    }

    private IReadOnlyList<byte[]> DeviceDoit(byte[] request, NetlinkAttributeList a, VdpaCommand reply, ItemWriter<Device> write)
    {
        string? name = a.GetString((ushort)VdpaAttr.DevName);
        if (name is null) return [Ack(request, Errno.EINVAL)];
        Device? d = _devices.Find(x => x.Name == name);
        if (d is null) return [Ack(request, Errno.ENODEV, "vdpa: device not found")];
        return [Message(NlMsgHeader.Read(request), reply, (ref NetlinkWriter w) => write(ref w, d)), Ack(request, 0)];
    }

    private IReadOnlyList<byte[]> Vstats(byte[] request, NetlinkAttributeList a)
    {
        if ((NlMsgHeader.Read(request).Flags & NetlinkMessageFlags.Dump) == NetlinkMessageFlags.Dump) return [Ack(request, Errno.EOPNOTSUPP)];
        string? name = a.GetString((ushort)VdpaAttr.DevName);
        uint? qidx = a.GetU32((ushort)VdpaAttr.DevQueueIndex);
        if (name is null || qidx is null) return [Ack(request, Errno.EINVAL)];
        Device? d = _devices.Find(x => x.Name == name);
        if (d is null) return [Ack(request, Errno.ENODEV, "vdpa: device not found")];
        if (d.Id != 1) return [Ack(request, Errno.EOPNOTSUPP)];
        if (qidx > 0x8000) return [Ack(request, Errno.ERANGE, "vdpa: queue index exceeds max value")];
        if (qidx > 2) return [Ack(request, Errno.EINVAL)];
        string[] names = qidx switch
        {
            0 => ["rx packets", "rx bytes", "rx errors", "rx overruns", "rx drops"],
            1 => ["tx packets", "tx bytes", "tx errors", "tx drops"],
            _ => ["cvq requests", "cvq successes", "cvq errors"],
        };
        return
        [
            Message(NlMsgHeader.Read(request), VdpaCommand.DevVstatsGet, (ref NetlinkWriter w) =>
            {
                w.PutString((ushort)VdpaAttr.DevName, d.Name);
                w.PutU32((ushort)VdpaAttr.DevId, d.Id);
                w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, d.Negotiated);
                w.PutU32((ushort)VdpaAttr.DevQueueIndex, qidx.Value);
                foreach (string n in names)
                {
                    w.PutString((ushort)VdpaAttr.DevVendorAttrName, n);
                    w.PutU64((ushort)VdpaAttr.DevVendorAttrValue, 0);
                }
            }),
            Ack(request, 0),
        ];
    }

    private byte[] AttrSet(byte[] request, NetlinkAttributeList a)
    {
        string? name = a.GetString((ushort)VdpaAttr.DevName);
        if (name is null) return Ack(request, Errno.EINVAL);
        Device? d = _devices.Find(x => x.Name == name);
        if (d is null) return Ack(request, Errno.ENODEV, "vdpa: device not found");
        if ((d.Parent.Classes & 2) == 0) return Ack(request, 0, $"vdpa: {name} device not supported");
        byte[]? mac = a.GetBinary((ushort)VdpaAttr.DevNetCfgMacAddr);
        if (mac is null) return Ack(request, Errno.EOPNOTSUPP);
        if ((mac[0] & 1) != 0 || mac.All(b => b == 0)) return Ack(request, Errno.EOPNOTSUPP, "vdpa: Invalid MAC address");
        d.Mac = mac;
        return Ack(request, 0);
    }

    private Mgmtdev? FindMgmtdev(NetlinkAttributeList a)
    {
        string? name = a.GetString((ushort)VdpaAttr.MgmtdevDevName);
        if (name is null) return null;
        string? bus = a.GetString((ushort)VdpaAttr.MgmtdevBusName);
        return _mgmtdevs.Find(m => m.Name == name && m.Bus == bus);
    }

    private static void WriteMgmtdev(ref NetlinkWriter w, Mgmtdev m)
    {
        if (m.Bus is not null) w.PutString((ushort)VdpaAttr.MgmtdevBusName, m.Bus);
        w.PutString((ushort)VdpaAttr.MgmtdevDevName, m.Name);
        w.PutU64((ushort)VdpaAttr.MgmtdevSupportedClasses, m.Classes);
        w.PutU32((ushort)VdpaAttr.DevMgmtdevMaxVqs, m.MaxVqs);
        w.PutU64((ushort)VdpaAttr.DevSupportedFeatures, m.Features);
    }

    private static void WriteDev(ref NetlinkWriter w, Device d)
    {
        if (d.Parent.Bus is not null) w.PutString((ushort)VdpaAttr.MgmtdevBusName, d.Parent.Bus);
        w.PutString((ushort)VdpaAttr.MgmtdevDevName, d.Parent.Name);
        w.PutString((ushort)VdpaAttr.DevName, d.Name);
        w.PutU32((ushort)VdpaAttr.DevId, d.Id);
        w.PutU32((ushort)VdpaAttr.DevVendorId, 0);
        w.PutU32((ushort)VdpaAttr.DevMaxVqs, d.MaxVqs);
        w.PutU16((ushort)VdpaAttr.DevMaxVqSize, 256);
        w.PutU16((ushort)VdpaAttr.DevMinVqSize, 1);
    }

    private static void WriteConfig(ref NetlinkWriter w, Device d)
    {
        w.PutString((ushort)VdpaAttr.DevName, d.Name);
        w.PutU32((ushort)VdpaAttr.DevId, d.Id);
        w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, d.Negotiated);
        w.PutU64((ushort)VdpaAttr.DevFeatures, d.Features);
        if (d.Id == 1)
        {
            if ((d.Features & (1UL << 3)) != 0) w.PutU16((ushort)VdpaAttr.DevNetCfgMtu, d.Mtu);
            if ((d.Features & (1UL << 5)) != 0) w.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, d.Mac);
            if ((d.Features & (1UL << 16)) != 0) w.PutU16((ushort)VdpaAttr.DevNetStatus, 1);
        }
        else
        {
            w.PutU64((ushort)VdpaAttr.DevBlkCfgCapacity, 0x40000);
            w.PutU32((ushort)VdpaAttr.DevBlkCfgSizeMax, 4096);
            w.PutU32((ushort)VdpaAttr.DevBlkCfgBlkSize, 512);
            w.PutU32((ushort)VdpaAttr.DevBlkCfgSegMax, 32);
            w.PutU16((ushort)VdpaAttr.DevBlkCfgNumQueues, 1);
            w.PutU8((ushort)VdpaAttr.DevBlkReadOnly, 0);
            w.PutU8((ushort)VdpaAttr.DevBlkFlush, 1);
        }
    }

    private delegate void ItemWriter<T>(ref NetlinkWriter w, T item);

    private delegate void AttributesWriter(ref NetlinkWriter w);

    private static IReadOnlyList<byte[]> Dump<T>(NlMsgHeader request, IEnumerable<T> items, VdpaCommand reply, ItemWriter<T> write)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            foreach (T item in items)
            {
                NetlinkMessageToken m = w.BeginMessage(FamilyId, NetlinkMessageFlags.Multi, request.Sequence, PortId);
                w.PutGenlHeader((byte)reply, VdpaFamily.Version);
                write(ref w, item);
                w.EndMessage(m);
            }
            byte[] first = w.ToArray();
            w.Rewind(0);
            NetlinkAckWriter.WriteDone(ref w, request.Sequence, PortId, 0, NetlinkAckOptions.Iproute2);
            byte[] done = w.ToArray();
            return first.Length > 0 ? [first, done] : [done];
        }
        finally
        {
            w.Dispose();
        }
    }

    private static byte[] Message(NlMsgHeader request, VdpaCommand reply, AttributesWriter write)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkMessageToken m = w.BeginMessage(FamilyId, NetlinkMessageFlags.None, request.Sequence, PortId);
            w.PutGenlHeader((byte)reply, VdpaFamily.Version);
            write(ref w);
            w.EndMessage(m);
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    private static byte[] Ack(byte[] request, int errno, string? message = null)
    {
        var w = NetlinkWriter.CreateGrowable();
        try
        {
            NetlinkAckWriter.WriteAck(ref w, request, PortId, errno, NetlinkAckOptions.Iproute2,
                message is null ? null : new NetlinkExtAckInfo { Message = message });
            return w.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }
}
