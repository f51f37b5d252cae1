namespace Uvdpa.Vdpa.Cli;

/// <summary>The VDPA_OPT_* bits of vdpa/vdpa.c: which items a command requires or accepts, and which were found.</summary>
[Flags]
internal enum VdpaOpt : uint
{
    None = 0,
    /// <summary>VDPA_OPT_MGMTDEV_HANDLE: a leading [bus/]name (mgmtdev show).</summary>
    MgmtdevHandle = 1 << 0,
    /// <summary>VDPA_OPT_VDEV_MGMTDEV_HANDLE: the "mgmtdev" keyword.</summary>
    VdevMgmtdevHandle = 1 << 1,
    /// <summary>VDPA_OPT_VDEV_NAME: the "name" keyword.</summary>
    VdevName = 1 << 2,
    /// <summary>VDPA_OPT_VDEV_HANDLE: a leading device name.</summary>
    VdevHandle = 1 << 3,
    /// <summary>VDPA_OPT_VDEV_MAC.</summary>
    VdevMac = 1 << 4,
    /// <summary>VDPA_OPT_VDEV_MTU.</summary>
    VdevMtu = 1 << 5,
    /// <summary>VDPA_OPT_MAX_VQP.</summary>
    MaxVqp = 1 << 6,
    /// <summary>VDPA_OPT_QUEUE_INDEX.</summary>
    QueueIndex = 1 << 7,
    /// <summary>VDPA_OPT_VDEV_FEATURES.</summary>
    VdevFeatures = 1 << 8,
}

/// <summary>struct vdpa_opts: what vdpa_argv_parse collected.</summary>
internal sealed class VdpaOptions
{
    public VdpaOpt Present { get; set; }

    public string? MgmtdevBusName { get; set; }

    public string? MgmtdevName { get; set; }

    public string? DeviceName { get; set; }

    /// <summary>char mac[ETH_ALEN], zero-initialised; a short MAC text fills only its first bytes.</summary>
    public byte[] Mac { get; } = new byte[6];

    public ushort Mtu { get; set; }

    public ushort MaxVqp { get; set; }

    public uint QueueIndex { get; set; }

    public ulong DeviceFeatures { get; set; }

    /// <summary>vdpa_opts_put: the attributes to send, for VdpaRequestWriter's (iproute2's) order.</summary>
    public Netlink.VdpaRequestAttributes ToRequestAttributes()
    {
        bool mgmt = (Present & (VdpaOpt.MgmtdevHandle | VdpaOpt.VdevMgmtdevHandle)) != 0;
        bool name = (Present & (VdpaOpt.VdevName | VdpaOpt.VdevHandle)) != 0;
        return new Netlink.VdpaRequestAttributes
        {
            BusName = mgmt ? MgmtdevBusName : null,
            ManagementDeviceName = mgmt ? MgmtdevName : null,
            DeviceName = name ? DeviceName : null,
            MacAddress = (Present & VdpaOpt.VdevMac) != 0 ? (byte[])Mac.Clone() : null,
            Mtu = (Present & VdpaOpt.VdevMtu) != 0 ? Mtu : null,
            MaxVqPairs = (Present & VdpaOpt.MaxVqp) != 0 ? MaxVqp : null,
            QueueIndex = (Present & VdpaOpt.QueueIndex) != 0 ? QueueIndex : null,
            DeviceFeatures = (Present & VdpaOpt.VdevFeatures) != 0 ? DeviceFeatures : null,
        };
    }
}
