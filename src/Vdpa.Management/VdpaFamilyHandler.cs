using System.Buffers;
using System.Buffers.Binary;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Netlink;
using Uvdpa.Virtio.Abi;
using Errno = Uvdpa.Vdpa.Netlink.Errno;
using VdpaManagementDevice = Uvdpa.Vdpa.Core.VdpaManagementDevice;

namespace Uvdpa.Vdpa.Management;

/// <summary>
/// The "vdpa" family as drivers/vdpa/vdpa.c (Linux 6.12) implements it: every command validated strictly against
/// vdpa_nl_policy (the ops lost their GENL_DONT_VALIDATE_* flags in 6.6, "vdpa: Enable strict validation for netlinks
/// ops"), genetlink's header check for commands ≥ resv_start_op (8), the same lookup rules, check order, errno values,
/// extack texts and reply attribute order.
/// </summary>
internal sealed class VdpaFamilyHandler(NetlinkService service) : GenlFamilyHandler
{
    private const ulong NetAttrsMask = (1UL << (int)VdpaAttr.DevNetCfgMacAddr) | (1UL << (int)VdpaAttr.DevNetCfgMtu) | (1UL << (int)VdpaAttr.DevNetCfgMaxVqp);

    /// <summary>VIRTIO_DEVICE_F_MASK: device-specific feature bits (0–27 and 42–63).</summary>
    private const ulong DeviceFeatureMask = 0xfffffc000fffffffUL;

    /// <summary>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX.</summary>
    private const uint MaxQueueIndex = 0x8000;

    private const byte FeaturesOk = (byte)DeviceStatus.FeaturesOk;

    private readonly VdpaBus _bus = service.Bus;

    /// <summary>vdpa_nl_policy[VDPA_ATTR_MAX + 1].</summary>
    internal static readonly AttrPolicy[] NlPolicy = BuildPolicy();

    /// <inheritdoc />
    public override GenlFamilyInfo Info { get; } = VdpaFamily.Describe(NetlinkService.VdpaFamilyId);

    /// <inheritdoc />
    public override int ReservedStartOp => (int)VdpaCommand.DevVstatsGet + 1;

    /// <inheritdoc />
    public override AttrPolicy[]? Policy(byte command, bool dump) => NlPolicy;

    /// <inheritdoc />
    public override bool Strict(byte command, bool dump) => true;

    private static AttrPolicy[] BuildPolicy()
    {
        var p = new AttrPolicy[VdpaFamily.MaxAttrNewest + 1];
        p[(int)VdpaAttr.MgmtdevBusName] = AttrPolicy.NulString;
        p[(int)VdpaAttr.MgmtdevDevName] = AttrPolicy.String;
        p[(int)VdpaAttr.DevName] = AttrPolicy.String;
        p[(int)VdpaAttr.DevNetCfgMacAddr] = AttrPolicy.EthAddr;
        p[(int)VdpaAttr.DevNetCfgMaxVqp] = AttrPolicy.U16;
        p[(int)VdpaAttr.DevNetCfgMtu] = new AttrPolicy(PolicyKind.U16, Min: 68); // virtio 1.1 §5.1.4.1
        p[(int)VdpaAttr.DevQueueIndex] = AttrPolicy.U32;
        p[(int)VdpaAttr.DevFeatures] = AttrPolicy.U64;
        return p;
    }

    /// <inheritdoc />
    public override int Doit(ref GenlRequest request, ReplyChannel reply) => (VdpaCommand)request.Genl.Command switch
    {
        VdpaCommand.MgmtdevGet => MgmtdevGet(ref request, reply),
        VdpaCommand.DevNew => DevNew(ref request),
        VdpaCommand.DevDel => DevDel(ref request),
        VdpaCommand.DevGet => DevGet(ref request, reply),
        VdpaCommand.DevConfigGet => ConfigGet(ref request, reply),
        VdpaCommand.DevVstatsGet => VstatsGet(ref request, reply),
        VdpaCommand.DevAttrSet => AttrSet(ref request),
        _ => Errno.EOPNOTSUPP,
    };

    /// <inheritdoc />
    public override void Dump(ref GenlRequest request, ReplyChannel reply)
    {
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        switch ((VdpaCommand)request.Genl.Command)
        {
            case VdpaCommand.MgmtdevGet:
                NetlinkService.RunDump(reply, seq, pid, (buffer, start) => _bus.WithLock(() =>
                {
                    var w = Writer(buffer, NetlinkService.MaxDatagramSize);
                    var list = _bus.ManagementDevices;
                    int idx = start;
                    for (; idx < list.Count; idx++)
                        if (FillMgmtdev(ref w, list[idx], seq, pid, NetlinkMessageFlags.Multi) != 0) break;
                    return (w.Position, idx);
                }));
                break;
            case VdpaCommand.DevGet:
                DumpDevices(reply, seq, pid, static (ref NetlinkWriter w, VdpaDevice d, uint s, uint p, byte[] scratch) => FillDev(ref w, d, s, p, NetlinkMessageFlags.Multi));
                break;
            case VdpaCommand.DevConfigGet:
                DumpDevices(reply, seq, pid, static (ref NetlinkWriter w, VdpaDevice d, uint s, uint p, byte[] scratch) => FillConfig(ref w, d, s, p, NetlinkMessageFlags.Multi, scratch));
                break;
            default:
                NetlinkService.SendDone(reply, seq, pid);
                break;
        }
    }

    private delegate int DeviceFill(ref NetlinkWriter w, VdpaDevice device, uint seq, uint pid, byte[] scratch);

    /// <summary>vdpa_nl_cmd_dev_get_dumpit / _config_get_dumpit: managed devices in bus order, resumed by index each round.</summary>
    private void DumpDevices(ReplyChannel reply, uint seq, uint pid, DeviceFill fill)
    {
        byte[] scratch = new byte[VirtioBlkConfig.Size];
        NetlinkService.RunDump(reply, seq, pid, (buffer, start) => _bus.WithLock(() =>
        {
            var w = Writer(buffer, NetlinkService.MaxDatagramSize);
            var devices = _bus.Devices;
            int idx = 0;
            foreach (var d in devices)
            {
                if (d.ManagementDevice is null) continue; // unmanaged devices are skipped and not counted
                if (idx < start)
                {
                    idx++;
                    continue;
                }
                if (fill(ref w, d, seq, pid, scratch) != 0) break; // EMSGSIZE: next round; other errors end the dump
                idx++;
            }
            return (w.Position, idx);
        }));
    }

    private static NetlinkWriter Writer(byte[] buffer, int size) => new(buffer.AsSpan(0, size));

    // ---------------------------------------------------------------- lookups

    private static bool TryGetMgmtdevName(ref GenlRequest request, out string? busName, out string? name)
    {
        busName = request.Has((int)VdpaAttr.MgmtdevBusName) ? request.GetString((int)VdpaAttr.MgmtdevBusName) : null;
        name = request.Has((int)VdpaAttr.MgmtdevDevName) ? request.GetString((int)VdpaAttr.MgmtdevDevName) : null;
        return name is not null;
    }

    /// <summary>vdpa_mgmtdev_get_from_attr: EINVAL without a name, ENODEV without a match.</summary>
    private int FindMgmtdev(string? busName, string? name, out VdpaManagementDevice mgmt)
    {
        mgmt = null!;
        if (name is null) return Errno.EINVAL;
        return _bus.TryFindManagementDevice(busName, name, out mgmt) ? 0 : Errno.ENODEV;
    }

    // ---------------------------------------------------------------- MGMTDEV_GET

    private int MgmtdevGet(ref GenlRequest request, ReplyChannel reply)
    {
        TryGetMgmtdevName(ref request, out string? busName, out string? name);
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int err = FindMgmtdev(busName, name, out var mgmt);
            if (err != 0)
            {
                extack.SetVdpa("Fail to find the specified mgmt device");
                return (err, 0);
            }
            var w = Writer(buffer, NetlinkService.DoitReplySize);
            err = FillMgmtdev(ref w, mgmt, seq, pid, NetlinkMessageFlags.None);
            return (err, w.Position);
        }));
    }

    /// <summary>vdpa_mgmtdev_fill.</summary>
    internal static int FillMgmtdev(ref NetlinkWriter w, VdpaManagementDevice m, uint seq, uint pid, NetlinkMessageFlags flags)
    {
        int start = w.Position;
        var msg = w.BeginMessage(NetlinkService.VdpaFamilyId, flags, seq, pid);
        w.PutGenlHeader((byte)VdpaCommand.MgmtdevNew, VdpaFamily.Version);
        PutHandle(ref w, m);
        w.PutU64((ushort)VdpaAttr.MgmtdevSupportedClasses, SupportedClasses(m, out _));
        w.PutU32((ushort)VdpaAttr.DevMgmtdevMaxVqs, m.MaxSupportedVqs);
        w.PutU64((ushort)VdpaAttr.DevSupportedFeatures, m.SupportedFeatures);
        return End(ref w, msg, start);
    }

    private static void PutHandle(ref NetlinkWriter w, VdpaManagementDevice m)
    {
        if (m.BusName is not null) w.PutString((ushort)VdpaAttr.MgmtdevBusName, m.BusName);
        w.PutString((ushort)VdpaAttr.MgmtdevDevName, m.Name);
    }

    /// <summary>vdpa_mgmtdev_get_classes: the id table up to the first 0 entry, ids above 63 ignored.</summary>
    private static ulong SupportedClasses(VdpaManagementDevice m, out int count)
    {
        ulong classes = 0;
        count = 0;
        foreach (var id in m.IdTable)
        {
            if ((uint)id == 0) break;
            if ((uint)id > 63) continue;
            classes |= 1UL << (int)id;
            count++;
        }
        return classes;
    }

    private static int End(ref NetlinkWriter w, NetlinkMessageToken msg, int start)
    {
        if (w.EndMessage(msg)) return 0;
        w.Rewind(start); // genlmsg_cancel
        return Errno.EMSGSIZE;
    }

    // ---------------------------------------------------------------- DEV_NEW

    private int DevNew(ref GenlRequest request)
    {
        var extack = request.ExtAck;
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        ulong mask = 0;
        byte[]? mac = null;
        ushort mtu = 0, maxVqp = 0;
        ulong features = 0;
        if (request.Has((int)VdpaAttr.DevNetCfgMacAddr))
        {
            mac = request.Payload((int)VdpaAttr.DevNetCfgMacAddr).ToArray();
            mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr);
        }
        if (request.Has((int)VdpaAttr.DevNetCfgMtu))
        {
            mtu = request.GetU16((int)VdpaAttr.DevNetCfgMtu);
            mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu);
        }
        if (request.Has((int)VdpaAttr.DevNetCfgMaxVqp))
        {
            maxVqp = request.GetU16((int)VdpaAttr.DevNetCfgMaxVqp);
            if (maxVqp == 0)
            {
                extack.SetVdpa("At least one pair of VQs is required");
                return Errno.EINVAL;
            }
            mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMaxVqp);
        }
        if (request.Has((int)VdpaAttr.DevFeatures))
        {
            features = request.GetU64((int)VdpaAttr.DevFeatures);
            ulong missing = 0;
            if (mac is not null && (features & (1UL << NetFeatures.Mac)) == 0) missing |= 1UL << NetFeatures.Mac;
            if ((mask & VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu)) != 0 && (features & (1UL << NetFeatures.Mtu)) == 0) missing |= 1UL << NetFeatures.Mtu;
            if ((mask & VdpaConfigAttr.Bit(VdpaConfigAttr.NetMaxVqp)) != 0 && maxVqp > 1 && (features & (1UL << NetFeatures.Mq)) == 0) missing |= 1UL << NetFeatures.Mq;
            if (missing != 0)
            {
                extack.SetVdpaFormatted($"Missing features 0x{missing:x} for provided attributes");
                return Errno.EINVAL;
            }
            mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures);
        }
        // Redundant with GENL_ADMIN_PERM, kept for the order (CAP_NET_ADMIN for net attributes).
        if ((mask & NetAttrsMask) != 0 && !request.Privileged) return Errno.EPERM;

        TryGetMgmtdevName(ref request, out string? busName, out string? mgmtName);
        var config = new DeviceConfigRequest { DeviceFeatures = features, Mac = mac, Mtu = mtu, MaxVqPairs = maxVqp, Mask = mask };
        return _bus.WithLock(() =>
        {
            int err = FindMgmtdev(busName, mgmtName, out var mgmt);
            if (err != 0)
            {
                extack.SetVdpa("Fail to find the specified management device");
                return err;
            }
            if ((mask & mgmt.ConfigAttrMask) != mask)
            {
                extack.SetVdpaFormatted($"Some provided attributes are not supported: 0x{mask & ~mgmt.ConfigAttrMask:x}");
                return Errno.EOPNOTSUPP;
            }
            ulong classes = SupportedClasses(mgmt, out int ncls);
            ulong netBit = 1UL << (int)VirtioDeviceId.Net;
            if ((mask & NetAttrsMask) != 0 && (classes & netBit) == 0)
            {
                extack.SetVdpa("Network class attributes provided on unsupported management device");
                return Errno.EINVAL;
            }
            if ((mask & NetAttrsMask) == 0 && (mask & VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures)) != 0 &&
                (classes & netBit) != 0 && ncls > 1 && (features & DeviceFeatureMask) != 0)
            {
                extack.SetVdpa("Management device supports multi-class while device features specified are ambiguous");
                return Errno.EINVAL;
            }
            // dev_add: an empty name fails in kobject_add (EINVAL); a taken name is EEXIST from _vdpa_register_device.
            if (name.Length == 0) return Errno.EINVAL;
            VdpaDevice device;
            try
            {
                device = _bus.AddDevice(mgmt, name, config);
            }
            catch (VdpaException e)
            {
                if (e.Extack is not null) extack.Set(e.Extack);
                return e.Errno;
            }
            catch (ArgumentException)
            {
                return Errno.EINVAL;
            }
            var definition = new DeviceDefinition
            {
                Name = name,
                ManagementBusName = mgmt.BusName,
                ManagementDeviceName = mgmt.Name,
                Mac = mac,
                Mtu = (mask & VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu)) != 0 ? mtu : null,
                MaxVqPairs = (mask & VdpaConfigAttr.Bit(VdpaConfigAttr.NetMaxVqp)) != 0 ? maxVqp : null,
                DeviceFeatures = (mask & VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures)) != 0 ? features : null,
            };
            DeviceFactory.Remember(device, definition);
            service.StorePut(definition, extack);
            return 0;
        });
    }

    // ---------------------------------------------------------------- DEV_DEL

    private int DevDel(ref GenlRequest request)
    {
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        var extack = request.ExtAck;
        return _bus.WithLock(() =>
        {
            int found = DeviceLookup.Find(_bus, name, extack, "Only user created device can be deleted by user", out var dev);
            if (found != 0) return found;
            dev.ManagementDevice!.DeleteDevice(_bus, dev); // dev_del is void (Find refused unmanaged devices)
            service.StoreRemove(name, extack);
            return 0;
        });
    }

    // ---------------------------------------------------------------- DEV_GET

    private int DevGet(ref GenlRequest request, ReplyChannel reply)
    {
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int found = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (found != 0) return (found, 0);
            if (dev.ManagementDevice is null) return (Errno.EINVAL, 0);
            var w = Writer(buffer, NetlinkService.DoitReplySize);
            int err = FillDev(ref w, dev, seq, pid, NetlinkMessageFlags.None);
            return (err, w.Position);
        }));
    }

    /// <summary>vdpa_dev_fill (reply command DEV_NEW).</summary>
    internal static int FillDev(ref NetlinkWriter w, VdpaDevice dev, uint seq, uint pid, NetlinkMessageFlags flags)
    {
        int start = w.Position;
        var msg = w.BeginMessage(NetlinkService.VdpaFamilyId, flags, seq, pid);
        w.PutGenlHeader((byte)VdpaCommand.DevNew, VdpaFamily.Version);
        PutHandle(ref w, dev.ManagementDevice!);
        var ops = dev.Ops;
        uint deviceId = ops.GetDeviceId();
        uint vendorId = ops.GetVendorId();
        ushort maxVqSize = ops.GetVqNumMax();
        ushort minVqSize = ops.Supports(VdpaOptionalOps.VqNumMin) ? ops.GetVqNumMin() : (ushort)1;
        w.PutString((ushort)VdpaAttr.DevName, dev.Name);
        w.PutU32((ushort)VdpaAttr.DevId, deviceId);
        w.PutU32((ushort)VdpaAttr.DevVendorId, vendorId);
        w.PutU32((ushort)VdpaAttr.DevMaxVqs, (uint)dev.NumVqs);
        w.PutU16((ushort)VdpaAttr.DevMaxVqSize, maxVqSize);
        w.PutU16((ushort)VdpaAttr.DevMinVqSize, minVqSize);
        return End(ref w, msg, start);
    }

    // ---------------------------------------------------------------- DEV_CONFIG_GET

    private int ConfigGet(ref GenlRequest request, ReplyChannel reply)
    {
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int found = DeviceLookup.Find(_bus, name, extack, "unmanaged vdpa device", out var dev);
            if (found != 0) return (found, 0);
            var w = Writer(buffer, NetlinkService.DoitReplySize);
            int err = FillConfig(ref w, dev, seq, pid, NetlinkMessageFlags.None, new byte[VirtioBlkConfig.Size]);
            return (err, w.Position);
        }));
    }

    private readonly record struct ConfigSnapshot(uint DeviceId, byte Status, ulong DriverFeatures, ulong DeviceFeatures);

    /// <summary>vdpa_dev_config_fill: the values are read under cf_lock (ops->get_config directly, as 6.12 does), then written.</summary>
    internal static int FillConfig(ref NetlinkWriter w, VdpaDevice dev, uint seq, uint pid, NetlinkMessageFlags flags, byte[] scratch)
    {
        var snap = dev.WithConfigLock(d =>
        {
            var ops = d.Ops;
            uint id = ops.GetDeviceId();
            byte status = ops.GetStatus();
            ulong driver = (status & FeaturesOk) != 0 ? ops.GetDriverFeatures() : 0;
            ulong device = 0;
            Array.Clear(scratch);
            if (id == (uint)VirtioDeviceId.Net)
            {
                ops.GetConfig(0, scratch.AsSpan(0, VirtioNetConfig.Size));
                device = ops.GetDeviceFeatures();
            }
            else if (id == (uint)VirtioDeviceId.Block)
            {
                ops.GetConfig(0, scratch.AsSpan(0, VirtioBlkConfig.Size));
                device = ops.GetDeviceFeatures();
            }
            return new ConfigSnapshot(id, status, driver, device);
        });

        if (snap.DeviceId != (uint)VirtioDeviceId.Net && snap.DeviceId != (uint)VirtioDeviceId.Block) return Errno.EOPNOTSUPP;
        int start = w.Position;
        var msg = w.BeginMessage(NetlinkService.VdpaFamilyId, flags, seq, pid);
        w.PutGenlHeader((byte)VdpaCommand.DevConfigGet, VdpaFamily.Version);
        w.PutString((ushort)VdpaAttr.DevName, dev.Name);
        w.PutU32((ushort)VdpaAttr.DevId, snap.DeviceId);
        if ((snap.Status & FeaturesOk) != 0) w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, snap.DriverFeatures);
        ReadOnlySpan<byte> c = scratch;
        ulong f = snap.DeviceFeatures;
        w.PutU64((ushort)VdpaAttr.DevFeatures, f);
        if (snap.DeviceId == (uint)VirtioDeviceId.Net)
        {
            if (Has(f, NetFeatures.Mtu)) w.PutU16((ushort)VdpaAttr.DevNetCfgMtu, U16(c, VirtioNetConfig.MtuOffset));
            if (Has(f, NetFeatures.Mac)) w.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, c.Slice(VirtioNetConfig.MacOffset, 6));
            if (Has(f, NetFeatures.Status)) w.PutU16((ushort)VdpaAttr.DevNetStatus, U16(c, VirtioNetConfig.StatusOffset));
            PutMaxVqp(ref w, f, c);
        }
        else
        {
            w.PutU64((ushort)VdpaAttr.DevBlkCfgCapacity, BinaryPrimitives.ReadUInt64LittleEndian(c[VirtioBlkConfig.CapacityOffset..]));
            if (Has(f, BlkFeatures.SizeMax)) w.PutU32((ushort)VdpaAttr.DevBlkCfgSizeMax, U32(c, VirtioBlkConfig.SizeMaxOffset));
            if (Has(f, BlkFeatures.BlkSize)) w.PutU32((ushort)VdpaAttr.DevBlkCfgBlkSize, U32(c, VirtioBlkConfig.BlkSizeOffset));
            if (Has(f, BlkFeatures.SegMax)) w.PutU32((ushort)VdpaAttr.DevBlkCfgSegMax, U32(c, VirtioBlkConfig.SegMaxOffset));
            if (Has(f, BlkFeatures.Mq)) w.PutU16((ushort)VdpaAttr.DevBlkCfgNumQueues, U16(c, VirtioBlkConfig.NumQueuesOffset));
            if (Has(f, BlkFeatures.Topology))
            {
                w.PutU8((ushort)VdpaAttr.DevBlkCfgPhyBlkExp, c[VirtioBlkConfig.PhysicalBlockExpOffset]);
                w.PutU8((ushort)VdpaAttr.DevBlkCfgAlignOffset, c[VirtioBlkConfig.AlignmentOffsetOffset]);
                w.PutU16((ushort)VdpaAttr.DevBlkCfgMinIoSize, U16(c, VirtioBlkConfig.MinIoSizeOffset));
                w.PutU32((ushort)VdpaAttr.DevBlkCfgOptIoSize, U32(c, VirtioBlkConfig.OptIoSizeOffset));
            }
            if (Has(f, BlkFeatures.Discard))
            {
                w.PutU32((ushort)VdpaAttr.DevBlkCfgMaxDiscardSec, U32(c, VirtioBlkConfig.MaxDiscardSectorsOffset));
                w.PutU32((ushort)VdpaAttr.DevBlkCfgMaxDiscardSeg, U32(c, VirtioBlkConfig.MaxDiscardSegOffset));
                w.PutU32((ushort)VdpaAttr.DevBlkCfgDiscardSecAlign, U32(c, VirtioBlkConfig.DiscardSectorAlignmentOffset));
            }
            if (Has(f, BlkFeatures.WriteZeroes))
            {
                w.PutU32((ushort)VdpaAttr.DevBlkCfgMaxWriteZeroesSec, U32(c, VirtioBlkConfig.MaxWriteZeroesSectorsOffset));
                w.PutU32((ushort)VdpaAttr.DevBlkCfgMaxWriteZeroesSeg, U32(c, VirtioBlkConfig.MaxWriteZeroesSegOffset));
            }
            w.PutU8((ushort)VdpaAttr.DevBlkReadOnly, Has(f, BlkFeatures.Ro) ? (byte)1 : (byte)0);
            w.PutU8((ushort)VdpaAttr.DevBlkFlush, Has(f, BlkFeatures.Flush) ? (byte)1 : (byte)0);
        }
        return End(ref w, msg, start);
    }

    /// <summary>vdpa_dev_net_mq_config_fill: MAX_VQP only with MQ or RSS.</summary>
    private static void PutMaxVqp(ref NetlinkWriter w, ulong features, ReadOnlySpan<byte> netConfig)
    {
        if (!Has(features, NetFeatures.Mq) && !Has(features, NetFeatures.Rss)) return;
        w.PutU16((ushort)VdpaAttr.DevNetCfgMaxVqp, U16(netConfig, VirtioNetConfig.MaxVirtqueuePairsOffset));
    }

    private static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;

    private static ushort U16(ReadOnlySpan<byte> c, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(c[offset..]);

    private static uint U32(ReadOnlySpan<byte> c, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(c[offset..]);

    // ---------------------------------------------------------------- DEV_VSTATS_GET

    private sealed record StatsResult(int Errno, ulong Features, byte[] Config, List<VendorStat> Stats);

    private int VstatsGet(ref GenlRequest request, ReplyChannel reply)
    {
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        if (!request.Has((int)VdpaAttr.DevQueueIndex)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        uint index = request.GetU32((int)VdpaAttr.DevQueueIndex);
        uint seq = request.Header.Sequence, pid = request.Header.PortId;
        var extack = request.ExtAck;
        return WithReply(reply, buffer => _bus.WithLock(() =>
        {
            int found = DeviceLookup.Find(_bus, name, extack, "unmanaged vdpa device", out var dev);
            if (found != 0) return (found, 0);
            uint deviceId = dev.Ops.GetDeviceId();
            if (deviceId != (uint)VirtioDeviceId.Net) return (Errno.EOPNOTSUPP, 0);
            if (index > MaxQueueIndex)
            {
                extack.SetVdpa("queue index exceeds max value");
                return (Errno.ERANGE, 0);
            }
            // vendor_stats_fill under cf_lock.
            var result = dev.WithConfigLock(d =>
            {
                if (!d.Ops.Supports(VdpaOptionalOps.VendorVqStats)) return new StatsResult(Errno.EOPNOTSUPP, 0, [], []);
                if ((d.Ops.GetStatus() & FeaturesOk) == 0)
                {
                    extack.SetVdpa("feature negotiation not complete");
                    return new StatsResult(Errno.EAGAIN, 0, [], []);
                }
                byte[] config = new byte[VirtioNetConfig.Size];
                d.GetConfig(0, config); // vdpa_get_config_unlocked (with its set_features(0) side effect)
                ulong features = d.Ops.GetDriverFeatures();
                var stats = new List<VendorStat>();
                int ret = d.Ops.GetVendorVqStats((int)index, stats);
                return new StatsResult(ret < 0 ? -ret : 0, features, config, stats);
            });
            if (result.Errno != 0) return (result.Errno, 0);
            var w = Writer(buffer, NetlinkService.DoitReplySize);
            var msg = w.BeginMessage(NetlinkService.VdpaFamilyId, NetlinkMessageFlags.None, seq, pid);
            w.PutGenlHeader((byte)VdpaCommand.DevVstatsGet, VdpaFamily.Version);
            w.PutString((ushort)VdpaAttr.DevName, dev.Name);
            w.PutU32((ushort)VdpaAttr.DevId, deviceId);
            w.PutU64((ushort)VdpaAttr.DevNegotiatedFeatures, result.Features);
            PutMaxVqp(ref w, result.Features, result.Config);
            w.PutU32((ushort)VdpaAttr.DevQueueIndex, index);
            foreach (var s in result.Stats)
            {
                w.PutString((ushort)VdpaAttr.DevVendorAttrName, s.Name);
                w.PutU64((ushort)VdpaAttr.DevVendorAttrValue, s.Value);
            }
            return (End(ref w, msg, 0), w.Position);
        }));
    }

    // ---------------------------------------------------------------- DEV_ATTR_SET

    private int AttrSet(ref GenlRequest request)
    {
        if (!request.Has((int)VdpaAttr.DevName)) return Errno.EINVAL;
        string name = request.GetString((int)VdpaAttr.DevName);
        byte[]? mac = request.Has((int)VdpaAttr.DevNetCfgMacAddr) ? request.Payload((int)VdpaAttr.DevNetCfgMacAddr).ToArray() : null;
        var extack = request.ExtAck;
        return _bus.WithLock(() =>
        {
            int found = DeviceLookup.Find(_bus, name, extack, null, out var dev);
            if (found != 0) return found;
            var mgmt = dev.ManagementDevice;
            if (mgmt is null)
            {
                extack.SetVdpa("unmanaged vdpa device");
                return Errno.EINVAL;
            }
            if ((SupportedClasses(mgmt, out _) & (1UL << (int)VirtioDeviceId.Net)) == 0)
            {
                extack.SetVdpaFormatted($"{name} device not supported"); // a warning: the command succeeds
                return 0;
            }
            // vdpa_dev_net_device_attr_set, under cf_lock.
            int err = dev.WithConfigLock(d =>
            {
                if (mac is null) return Errno.EOPNOTSUPP;
                if ((mac[0] & 1) != 0 || mac.AsSpan().IndexOfAnyExcept((byte)0) < 0)
                {
                    extack.SetVdpaFormatted("Invalid MAC address");
                    return Errno.EOPNOTSUPP;
                }
                if (!mgmt.SupportsSetAttr)
                {
                    extack.SetVdpaFormatted("Operation not supported by the device.");
                    return Errno.EOPNOTSUPP;
                }
                try
                {
                    mgmt.SetAttributes(d, new DeviceConfigRequest { Mac = mac, Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
                    return 0;
                }
                catch (VdpaException e)
                {
                    if (e.Extack is not null) extack.Set(e.Extack);
                    return e.Errno;
                }
            });
            if (err == 0)
            {
                var definition = DeviceFactory.DefinitionOf(dev) with { Mac = mac };
                DeviceFactory.Remember(dev, definition);
                service.StorePut(definition, extack);
            }
            return err;
        });
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Runs a doit that writes its reply into a pooled buffer; sends the reply when it returns 0.</summary>
    private static int WithReply(ReplyChannel reply, Func<byte[], (int Errno, int Length)> run)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(NetlinkService.DoitReplySize);
        try
        {
            (int err, int length) = run(buffer);
            if (err != 0) return err;
            reply.Send(buffer.AsSpan(0, length));
            return 0;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
