namespace Uvdpa.Virtio.Abi;

/// <summary>Transport (device-independent) feature bits. Spec: VIRTIO 1.3 §6 "Reserved Feature Bits".</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_NOTIFY_ON_EMPTY (legacy).</summary>
    public const int NotifyOnEmpty = 24;
    /// <summary>VIRTIO_F_ANY_LAYOUT (legacy).</summary>
    public const int AnyLayout = 27;
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC.</summary>
    public const int RingIndirectDesc = 28;
    /// <summary>VIRTIO_RING_F_EVENT_IDX.</summary>
    public const int RingEventIdx = 29;
    /// <summary>VIRTIO_F_VERSION_1.</summary>
    public const int Version1 = 32;
    /// <summary>VIRTIO_F_ACCESS_PLATFORM (was IOMMU_PLATFORM).</summary>
    public const int AccessPlatform = 33;
    /// <summary>VIRTIO_F_RING_PACKED.</summary>
    public const int RingPacked = 34;
    /// <summary>VIRTIO_F_IN_ORDER.</summary>
    public const int InOrder = 35;
    /// <summary>VIRTIO_F_ORDER_PLATFORM.</summary>
    public const int OrderPlatform = 36;
    /// <summary>VIRTIO_F_SR_IOV.</summary>
    public const int SrIov = 37;
    /// <summary>VIRTIO_F_NOTIFICATION_DATA.</summary>
    public const int NotificationData = 38;
    /// <summary>VIRTIO_F_NOTIF_CONFIG_DATA.</summary>
    public const int NotifConfigData = 39;
    /// <summary>VIRTIO_F_RING_RESET.</summary>
    public const int RingReset = 40;
    /// <summary>VIRTIO_F_ADMIN_VQ.</summary>
    public const int AdminVq = 41;

    /// <summary>First transport feature bit (VIRTIO_TRANSPORT_F_START).</summary>
    public const int TransportStart = 28;
    /// <summary>One past the last transport feature bit (VIRTIO_TRANSPORT_F_END, Linux 6.12).</summary>
    public const int TransportEnd = 42;

    /// <summary>Returns the mask with bit <paramref name="bit"/> set.</summary>
    public static ulong Bit(int bit) => 1UL << bit;

    /// <summary>True when <paramref name="features"/> has bit <paramref name="bit"/>.</summary>
    public static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;
}
