using System.Net.NetworkInformation;

namespace Uvdpa.Vdpa.Netlink;

/// <summary>A management device (MGMTDEV_GET reply, cmd MGMTDEV_NEW).</summary>
/// <param name="BusName">MGMTDEV_BUS_NAME, null for bus-less parents.</param>
/// <param name="Name">MGMTDEV_DEV_NAME.</param>
/// <param name="SupportedClasses">MGMTDEV_SUPPORTED_CLASSES: bit N = virtio device id N.</param>
/// <param name="MaxSupportedVqs">DEV_MGMTDEV_MAX_VQS (5.17+).</param>
/// <param name="SupportedFeatures">DEV_SUPPORTED_FEATURES (5.17+).</param>
/// <param name="Attributes">All attributes in wire order.</param>
public sealed record VdpaManagementDevice(string? BusName, string Name, ulong SupportedClasses, uint? MaxSupportedVqs,
    ulong? SupportedFeatures, NetlinkAttributeList Attributes)
{
    /// <summary>The <c>[bus/]name</c> handle.</summary>
    public VdpaManagementDeviceHandle Handle => new(BusName, Name);

    /// <summary>Reads a reply message.</summary>
    public static VdpaManagementDevice FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new VdpaManagementDevice(
            a.GetString((ushort)VdpaAttr.MgmtdevBusName),
            a.GetString((ushort)VdpaAttr.MgmtdevDevName) ?? throw Missing(VdpaAttr.MgmtdevDevName),
            a.GetU64((ushort)VdpaAttr.MgmtdevSupportedClasses) ?? 0,
            a.GetU32((ushort)VdpaAttr.DevMgmtdevMaxVqs),
            a.GetU64((ushort)VdpaAttr.DevSupportedFeatures),
            a);
    }

    internal static NetlinkFormatException Missing(VdpaAttr attr) => new($"vdpa reply lacks {attr} ({(ushort)attr})");
}

/// <summary>A vDPA device (DEV_GET reply, cmd DEV_NEW).</summary>
/// <param name="Name">DEV_NAME.</param>
/// <param name="ManagementDevice">MGMTDEV_BUS_NAME + MGMTDEV_DEV_NAME.</param>
/// <param name="DeviceId">DEV_ID (1 net, 2 block).</param>
/// <param name="VendorId">DEV_VENDOR_ID.</param>
/// <param name="MaxVqs">DEV_MAX_VQS.</param>
/// <param name="MaxVqSize">DEV_MAX_VQ_SIZE.</param>
/// <param name="MinVqSize">DEV_MIN_VQ_SIZE (5.16+).</param>
/// <param name="Attributes">All attributes in wire order.</param>
public sealed record VdpaDeviceInfo(string Name, VdpaManagementDeviceHandle ManagementDevice, uint DeviceId, uint VendorId,
    uint MaxVqs, ushort MaxVqSize, ushort? MinVqSize, NetlinkAttributeList Attributes)
{
    /// <summary>Reads a reply message.</summary>
    public static VdpaDeviceInfo FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new VdpaDeviceInfo(
            a.GetString((ushort)VdpaAttr.DevName) ?? throw VdpaManagementDevice.Missing(VdpaAttr.DevName),
            new VdpaManagementDeviceHandle(a.GetString((ushort)VdpaAttr.MgmtdevBusName),
                a.GetString((ushort)VdpaAttr.MgmtdevDevName) ?? throw VdpaManagementDevice.Missing(VdpaAttr.MgmtdevDevName)),
            a.GetU32((ushort)VdpaAttr.DevId) ?? throw VdpaManagementDevice.Missing(VdpaAttr.DevId),
            a.GetU32((ushort)VdpaAttr.DevVendorId) ?? 0,
            a.GetU32((ushort)VdpaAttr.DevMaxVqs) ?? 0,
            a.GetU16((ushort)VdpaAttr.DevMaxVqSize) ?? 0,
            a.GetU16((ushort)VdpaAttr.DevMinVqSize),
            a);
    }
}

/// <summary>
/// A device's configuration (DEV_CONFIG_GET reply). Net fields are set for net devices, block fields for block
/// devices; absent attributes stay null. On a 6.1 kernel the net device features arrive as attribute 21
/// (VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES); they are reported in <see cref="DeviceFeatures"/> with
/// <see cref="DeviceFeaturesFromLegacyAttribute"/> set.
/// </summary>
public sealed record VdpaDeviceConfig
{
    /// <summary>DEV_NAME.</summary>
    public required string Name { get; init; }
    /// <summary>DEV_ID.</summary>
    public required uint DeviceId { get; init; }
    /// <summary>DEV_NEGOTIATED_FEATURES (only once FEATURES_OK).</summary>
    public ulong? NegotiatedFeatures { get; init; }
    /// <summary>DEV_FEATURES (6.2+) or, on 6.1 net devices, attribute 21.</summary>
    public ulong? DeviceFeatures { get; init; }
    /// <summary>The device features came from the 6.1 attribute 21.</summary>
    public bool DeviceFeaturesFromLegacyAttribute { get; init; }
    /// <summary>NET_CFG_MACADDR.</summary>
    public PhysicalAddress? MacAddress { get; init; }
    /// <summary>NET_STATUS (u16 on the wire, u8 tolerated).</summary>
    public ushort? NetStatus { get; init; }
    /// <summary>NET_CFG_MAX_VQP.</summary>
    public ushort? MaxVqPairs { get; init; }
    /// <summary>NET_CFG_MTU.</summary>
    public ushort? Mtu { get; init; }
    /// <summary>BLK_CFG_CAPACITY (512-byte sectors).</summary>
    public ulong? BlkCapacity { get; init; }
    /// <summary>BLK_CFG_SIZE_MAX.</summary>
    public uint? BlkSizeMax { get; init; }
    /// <summary>BLK_CFG_BLK_SIZE.</summary>
    public uint? BlkBlockSize { get; init; }
    /// <summary>BLK_CFG_SEG_MAX.</summary>
    public uint? BlkSegMax { get; init; }
    /// <summary>BLK_CFG_NUM_QUEUES.</summary>
    public ushort? BlkNumQueues { get; init; }
    /// <summary>BLK_CFG_PHY_BLK_EXP.</summary>
    public byte? BlkPhysicalBlockExp { get; init; }
    /// <summary>BLK_CFG_ALIGN_OFFSET.</summary>
    public byte? BlkAlignmentOffset { get; init; }
    /// <summary>BLK_CFG_MIN_IO_SIZE.</summary>
    public ushort? BlkMinIoSize { get; init; }
    /// <summary>BLK_CFG_OPT_IO_SIZE.</summary>
    public uint? BlkOptIoSize { get; init; }
    /// <summary>BLK_CFG_MAX_DISCARD_SEC.</summary>
    public uint? BlkMaxDiscardSectors { get; init; }
    /// <summary>BLK_CFG_MAX_DISCARD_SEG.</summary>
    public uint? BlkMaxDiscardSegments { get; init; }
    /// <summary>BLK_CFG_DISCARD_SEC_ALIGN.</summary>
    public uint? BlkDiscardSectorAlignment { get; init; }
    /// <summary>BLK_CFG_MAX_WRITE_ZEROES_SEC.</summary>
    public uint? BlkMaxWriteZeroesSectors { get; init; }
    /// <summary>BLK_CFG_MAX_WRITE_ZEROES_SEG.</summary>
    public uint? BlkMaxWriteZeroesSegments { get; init; }
    /// <summary>BLK_READ_ONLY.</summary>
    public bool? BlkReadOnly { get; init; }
    /// <summary>BLK_FLUSH.</summary>
    public bool? BlkFlush { get; init; }
    /// <summary>All attributes in wire order.</summary>
    public required NetlinkAttributeList Attributes { get; init; }

    /// <summary>Reads a reply message.</summary>
    public static VdpaDeviceConfig FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        uint id = a.GetU32((ushort)VdpaAttr.DevId) ?? throw VdpaManagementDevice.Missing(VdpaAttr.DevId);
        ulong? features = a.GetU64((ushort)VdpaAttr.DevFeatures);
        ulong? attr21 = a.GetU64((ushort)VdpaAttr.DevBlkCfgCapacity);
        bool legacy = false;
        ulong? capacity = null;
        if (id == 1 && attr21 is not null)
        {
            // Linux 6.1: attribute 21 was VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES, sent for net devices only.
            legacy = features is null;
            features ??= attr21;
        }
        else
        {
            capacity = attr21;
        }
        byte[]? mac = a.GetBinary((ushort)VdpaAttr.DevNetCfgMacAddr);
        return new VdpaDeviceConfig
        {
            Name = a.GetString((ushort)VdpaAttr.DevName) ?? throw VdpaManagementDevice.Missing(VdpaAttr.DevName),
            DeviceId = id,
            NegotiatedFeatures = a.GetU64((ushort)VdpaAttr.DevNegotiatedFeatures),
            DeviceFeatures = features,
            DeviceFeaturesFromLegacyAttribute = legacy,
            MacAddress = mac is null ? null : new PhysicalAddress(mac),
            NetStatus = (ushort?)a.GetUInt((ushort)VdpaAttr.DevNetStatus),
            MaxVqPairs = a.GetU16((ushort)VdpaAttr.DevNetCfgMaxVqp),
            Mtu = a.GetU16((ushort)VdpaAttr.DevNetCfgMtu),
            BlkCapacity = capacity,
            BlkSizeMax = a.GetU32((ushort)VdpaAttr.DevBlkCfgSizeMax),
            BlkBlockSize = a.GetU32((ushort)VdpaAttr.DevBlkCfgBlkSize),
            BlkSegMax = a.GetU32((ushort)VdpaAttr.DevBlkCfgSegMax),
            BlkNumQueues = a.GetU16((ushort)VdpaAttr.DevBlkCfgNumQueues),
            BlkPhysicalBlockExp = a.GetU8((ushort)VdpaAttr.DevBlkCfgPhyBlkExp),
            BlkAlignmentOffset = a.GetU8((ushort)VdpaAttr.DevBlkCfgAlignOffset),
            BlkMinIoSize = a.GetU16((ushort)VdpaAttr.DevBlkCfgMinIoSize),
            BlkOptIoSize = a.GetU32((ushort)VdpaAttr.DevBlkCfgOptIoSize),
            BlkMaxDiscardSectors = a.GetU32((ushort)VdpaAttr.DevBlkCfgMaxDiscardSec),
            BlkMaxDiscardSegments = a.GetU32((ushort)VdpaAttr.DevBlkCfgMaxDiscardSeg),
            BlkDiscardSectorAlignment = a.GetU32((ushort)VdpaAttr.DevBlkCfgDiscardSecAlign),
            BlkMaxWriteZeroesSectors = a.GetU32((ushort)VdpaAttr.DevBlkCfgMaxWriteZeroesSec),
            BlkMaxWriteZeroesSegments = a.GetU32((ushort)VdpaAttr.DevBlkCfgMaxWriteZeroesSeg),
            BlkReadOnly = a.GetU8((ushort)VdpaAttr.DevBlkReadOnly) is byte ro ? ro != 0 : null,
            BlkFlush = a.GetU8((ushort)VdpaAttr.DevBlkFlush) is byte fl ? fl != 0 : null,
            Attributes = a,
        };
    }
}

/// <summary>Vendor statistics of one queue (DEV_VSTATS_GET reply).</summary>
/// <param name="Name">DEV_NAME.</param>
/// <param name="DeviceId">DEV_ID.</param>
/// <param name="NegotiatedFeatures">DEV_NEGOTIATED_FEATURES.</param>
/// <param name="MaxVqPairs">NET_CFG_MAX_VQP (≤6.1 always; later only with MQ/RSS).</param>
/// <param name="QueueIndex">DEV_QUEUE_INDEX.</param>
/// <param name="Values">(VENDOR_ATTR_NAME, VENDOR_ATTR_VALUE) pairs in order.</param>
/// <param name="Attributes">All attributes in wire order.</param>
public sealed record VdpaVendorStats(string Name, uint DeviceId, ulong? NegotiatedFeatures, ushort? MaxVqPairs, uint? QueueIndex,
    IReadOnlyList<KeyValuePair<string, ulong>> Values, NetlinkAttributeList Attributes)
{
    /// <summary>Reads a reply message; a name without a following value is a format error.</summary>
    public static VdpaVendorStats FromAttributes(NetlinkAttributeList a)
    {
        ArgumentNullException.ThrowIfNull(a);
        var values = new List<KeyValuePair<string, ulong>>();
        string? pending = null;
        foreach (NetlinkAttributeValue v in a)
        {
            if (v.Type == (ushort)VdpaAttr.DevVendorAttrName)
            {
                if (pending is not null) throw new NetlinkFormatException($"vendor attribute '{pending}' has no value");
                pending = v.View.GetString();
            }
            else if (v.Type == (ushort)VdpaAttr.DevVendorAttrValue)
            {
                if (pending is null) throw new NetlinkFormatException("vendor attribute value without a name");
                values.Add(new KeyValuePair<string, ulong>(pending, v.View.GetU64()));
                pending = null;
            }
        }
        if (pending is not null) throw new NetlinkFormatException($"vendor attribute '{pending}' has no value");
        return new VdpaVendorStats(
            a.GetString((ushort)VdpaAttr.DevName) ?? throw VdpaManagementDevice.Missing(VdpaAttr.DevName),
            a.GetU32((ushort)VdpaAttr.DevId) ?? 0,
            a.GetU64((ushort)VdpaAttr.DevNegotiatedFeatures),
            a.GetU16((ushort)VdpaAttr.DevNetCfgMaxVqp),
            a.GetU32((ushort)VdpaAttr.DevQueueIndex),
            values,
            a);
    }
}
