namespace Uvdpa.Virtio.Abi;

/// <summary>Device status field bits. Spec: VIRTIO 1.3 §2.1; Linux include/uapi/linux/virtio_config.h.</summary>
[Flags]
public enum DeviceStatus : byte
{
    /// <summary>Reset state (0).</summary>
    None = 0,
    /// <summary>VIRTIO_CONFIG_S_ACKNOWLEDGE.</summary>
    Acknowledge = 0x01,
    /// <summary>VIRTIO_CONFIG_S_DRIVER.</summary>
    Driver = 0x02,
    /// <summary>VIRTIO_CONFIG_S_DRIVER_OK.</summary>
    DriverOk = 0x04,
    /// <summary>VIRTIO_CONFIG_S_FEATURES_OK.</summary>
    FeaturesOk = 0x08,
    /// <summary>VIRTIO_CONFIG_S_NEEDS_RESET.</summary>
    NeedsReset = 0x40,
    /// <summary>VIRTIO_CONFIG_S_FAILED.</summary>
    Failed = 0x80,
}
