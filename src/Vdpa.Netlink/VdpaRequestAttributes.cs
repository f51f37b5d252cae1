namespace Uvdpa.Vdpa.Netlink;

/// <summary>
/// The request attributes iproute2's vdpa can send. <see cref="VdpaRequestWriter"/> writes the present ones in
/// iproute2's order (vdpa_opts_put): BUS_NAME, MGMTDEV_DEV_NAME, DEV_NAME, NET_CFG_MACADDR, NET_CFG_MTU,
/// NET_CFG_MAX_VQP, QUEUE_INDEX, DEV_FEATURES.
/// </summary>
public sealed record VdpaRequestAttributes
{
    /// <summary>No attributes (dump requests).</summary>
    public static VdpaRequestAttributes None { get; } = new();

    /// <summary>VDPA_ATTR_MGMTDEV_BUS_NAME (only written together with <see cref="ManagementDeviceName"/>).</summary>
    public string? BusName { get; init; }

    /// <summary>VDPA_ATTR_MGMTDEV_DEV_NAME.</summary>
    public string? ManagementDeviceName { get; init; }

    /// <summary>VDPA_ATTR_DEV_NAME.</summary>
    public string? DeviceName { get; init; }

    /// <summary>VDPA_ATTR_DEV_NET_CFG_MACADDR (6 bytes on the wire; any length is sent as given).</summary>
    public byte[]? MacAddress { get; init; }

    /// <summary>VDPA_ATTR_DEV_NET_CFG_MTU (u16).</summary>
    public ushort? Mtu { get; init; }

    /// <summary>VDPA_ATTR_DEV_NET_CFG_MAX_VQP (u16).</summary>
    public ushort? MaxVqPairs { get; init; }

    /// <summary>VDPA_ATTR_DEV_QUEUE_INDEX (u32).</summary>
    public uint? QueueIndex { get; init; }

    /// <summary>VDPA_ATTR_DEV_FEATURES (u64).</summary>
    public ulong? DeviceFeatures { get; init; }

    /// <summary>Sets the management device from a <c>[bus/]name</c> handle.</summary>
    public VdpaRequestAttributes WithManagementDevice(VdpaManagementDeviceHandle handle) =>
        this with { BusName = handle.BusName, ManagementDeviceName = handle.DeviceName };
}

/// <summary>Writes vdpa requests byte for byte like iproute2 (padding zeroed instead of stale).</summary>
public static class VdpaRequestWriter
{
    /// <summary>
    /// Writes one request: nlmsghdr (type <paramref name="familyId"/>, <paramref name="flags"/>, <paramref name="sequence"/>,
    /// pid 0), genlmsghdr (command, <paramref name="genlVersion"/> — iproute2 sends 0), then the attributes.
    /// </summary>
    public static bool Write(ref NetlinkWriter writer, ushort familyId, byte command, NetlinkMessageFlags flags, uint sequence,
        VdpaRequestAttributes attributes, byte genlVersion = VdpaFamily.Iproute2RequestVersion)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        NetlinkMessageToken m = writer.BeginMessage(familyId, flags, sequence, 0);
        writer.PutGenlHeader(command, genlVersion);
        WriteAttributes(ref writer, attributes);
        return writer.EndMessage(m);
    }

    /// <summary>Writes just the attributes, in iproute2's order.</summary>
    public static void WriteAttributes(ref NetlinkWriter writer, VdpaRequestAttributes a)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.ManagementDeviceName is not null)
        {
            if (a.BusName is not null) writer.PutString((ushort)VdpaAttr.MgmtdevBusName, a.BusName);
            writer.PutString((ushort)VdpaAttr.MgmtdevDevName, a.ManagementDeviceName);
        }
        if (a.DeviceName is not null) writer.PutString((ushort)VdpaAttr.DevName, a.DeviceName);
        if (a.MacAddress is byte[] mac) writer.PutBinary((ushort)VdpaAttr.DevNetCfgMacAddr, mac);
        if (a.Mtu is ushort mtu) writer.PutU16((ushort)VdpaAttr.DevNetCfgMtu, mtu);
        if (a.MaxVqPairs is ushort vqp) writer.PutU16((ushort)VdpaAttr.DevNetCfgMaxVqp, vqp);
        if (a.QueueIndex is uint q) writer.PutU32((ushort)VdpaAttr.DevQueueIndex, q);
        if (a.DeviceFeatures is ulong f) writer.PutU64((ushort)VdpaAttr.DevFeatures, f);
    }
}
