namespace Uvdpa.Vdpa.Cli;

/// <summary>
/// The feature-bit names iproute2 7.1's vdpa prints (net_feature_strs and ext_feature_strs in vdpa/vdpa.c): the
/// transport range VIRTIO_TRANSPORT_F_START..VIRTIO_TRANSPORT_F_END (28..42 with 7.1's headers; 28..41 in 6.1) is
/// named for every device; other bits only for net (device id 1). An unnamed bit prints as bit_N (text) or N (JSON).
/// </summary>
internal static class FeatureNames
{
    /// <summary>VIRTIO_TRANSPORT_F_START.</summary>
    public const int TransportStart = 28;

    /// <summary>VIRTIO_TRANSPORT_F_END as of iproute2 7.1's uapi headers (VIRTIO_F_ADMIN_VQ = 41 made it 42).</summary>
    public const int TransportEnd = 42;

    /// <summary>VIRTIO_ID_NET.</summary>
    public const uint NetDeviceId = 1;

    /// <summary>The name of <paramref name="bit"/> for device <paramref name="deviceId"/>, or null.</summary>
    public static string? Name(int bit, uint deviceId)
    {
        if (bit < TransportStart || bit > TransportEnd)
            return deviceId == NetDeviceId ? NetName(bit) : null;
        return TransportName(bit);
    }

    private static string? TransportName(int bit) => bit switch
    {
        28 => "RING_INDIRECT_DESC",
        29 => "RING_EVENT_IDX",
        32 => "VERSION_1",
        33 => "ACCESS_PLATFORM",
        34 => "RING_PACKED",
        35 => "IN_ORDER",
        36 => "ORDER_PLATFORM",
        37 => "SR_IOV",
        38 => "NOTIFICATION_DATA",
        _ => null,
    };

    private static string? NetName(int bit) => bit switch
    {
        0 => "CSUM",
        1 => "GUEST_CSUM",
        2 => "CTRL_GUEST_OFFLOADS",
        3 => "MTU",
        5 => "MAC",
        7 => "GUEST_TSO4",
        8 => "GUEST_TSO6",
        9 => "GUEST_ECN",
        10 => "GUEST_UFO",
        11 => "HOST_TSO4",
        12 => "HOST_TSO6",
        13 => "HOST_ECN",
        14 => "HOST_UFO",
        15 => "MRG_RXBUF",
        16 => "STATUS",
        17 => "CTRL_VQ",
        18 => "CTRL_RX",
        19 => "CTRL_VLAN",
        20 => "CTRL_RX_EXTRA",
        21 => "GUEST_ANNOUNCE",
        22 => "MQ",
        23 => "CTRL_MAC_ADDR",
        24 => "NOTIFY_ON_EMPTY",
        27 => "ANY_LAYOUT",
        57 => "HASH_REPORT",
        60 => "RSS",
        61 => "RSC_EXT",
        62 => "STANDBY",
        63 => "SPEED_DUPLEX",
        _ => null,
    };
}
