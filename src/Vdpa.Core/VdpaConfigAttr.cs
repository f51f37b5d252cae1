namespace Uvdpa.Vdpa.Core;

/// <summary>Management attribute numbers used in config masks (enum vdpa_attr; mask bit = 1 &lt;&lt; value).</summary>
public static class VdpaConfigAttr
{
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MACADDR.</summary>
    public const int NetMacAddr = 10;
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MAX_VQP.</summary>
    public const int NetMaxVqp = 12;
    /// <summary>VDPA_ATTR_DEV_NET_CFG_MTU.</summary>
    public const int NetMtu = 13;
    /// <summary>VDPA_ATTR_DEV_FEATURES.</summary>
    public const int DevFeatures = 20;

    /// <summary>Mask bit of attribute <paramref name="attr"/>.</summary>
    public static ulong Bit(int attr) => 1UL << attr;
}

/// <summary>struct vdpa_dev_set_config: provisioning values for dev_add / dev_set_attr; <see cref="Mask"/> says which are set.</summary>
public sealed record DeviceConfigRequest
{
    /// <summary>Requested device features (VDPA_ATTR_DEV_FEATURES).</summary>
    public ulong DeviceFeatures { get; init; }
    /// <summary>MAC address (6 bytes) when masked.</summary>
    public ReadOnlyMemory<byte> Mac { get; init; }
    /// <summary>MTU when masked.</summary>
    public ushort Mtu { get; init; }
    /// <summary>Max virtqueue pairs when masked.</summary>
    public ushort MaxVqPairs { get; init; }
    /// <summary>Which attributes are present: bits 1 &lt;&lt; VdpaConfigAttr.*.</summary>
    public ulong Mask { get; init; }
    /// <summary>Extension options (uvdpa family only; e.g. a blk image path). Never set by the kernel-compatible path.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();

    /// <summary>True when attribute <paramref name="attr"/> is present.</summary>
    public bool Has(int attr) => (Mask & VdpaConfigAttr.Bit(attr)) != 0;
}
