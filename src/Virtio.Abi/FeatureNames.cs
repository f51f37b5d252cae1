namespace Uvdpa.Virtio.Abi;

/// <summary>
/// Feature bit names as iproute2's vdpa tool prints them (vdpa/vdpa.c: the transport table for bits 28..42 and the
/// net table for device bits). Unnamed bits have no entry (iproute2 prints "bit_N").
/// </summary>
public static class FeatureNames
{
    private static readonly Dictionary<int, string> Transport = new()
    {
        [28] = "RING_INDIRECT_DESC", [29] = "RING_EVENT_IDX", [32] = "VERSION_1", [33] = "ACCESS_PLATFORM",
        [34] = "RING_PACKED", [35] = "IN_ORDER", [36] = "ORDER_PLATFORM", [37] = "SR_IOV", [38] = "NOTIFICATION_DATA",
    };

    private static readonly Dictionary<int, string> Net = new()
    {
        [0] = "CSUM", [1] = "GUEST_CSUM", [2] = "CTRL_GUEST_OFFLOADS", [3] = "MTU", [5] = "MAC", [7] = "GUEST_TSO4",
        [8] = "GUEST_TSO6", [9] = "GUEST_ECN", [10] = "GUEST_UFO", [11] = "HOST_TSO4", [12] = "HOST_TSO6",
        [13] = "HOST_ECN", [14] = "HOST_UFO", [15] = "MRG_RXBUF", [16] = "STATUS", [17] = "CTRL_VQ", [18] = "CTRL_RX",
        [19] = "CTRL_VLAN", [20] = "CTRL_RX_EXTRA", [21] = "GUEST_ANNOUNCE", [22] = "MQ", [23] = "CTRL_MAC_ADDR",
        [24] = "NOTIFY_ON_EMPTY", [27] = "ANY_LAYOUT", [57] = "HASH_REPORT", [60] = "RSS", [61] = "RSC_EXT",
        [62] = "STANDBY", [63] = "SPEED_DUPLEX",
    };

    /// <summary>Name of <paramref name="bit"/> for a device of class <paramref name="deviceId"/>, or null when unnamed.</summary>
    public static string? Name(int bit, VirtioDeviceId deviceId)
    {
        if (bit is >= VirtioFeatures.TransportStart and < VirtioFeatures.TransportEnd)
            return Transport.GetValueOrDefault(bit);
        return deviceId == VirtioDeviceId.Net ? Net.GetValueOrDefault(bit) : null;
    }

    /// <summary>Space-separated names of every set bit, ascending, "bit_N" for unnamed bits (iproute2's text format).</summary>
    public static string Describe(ulong features, VirtioDeviceId deviceId)
        => string.Join(' ', Enumerable.Range(0, 64).Where(b => (features & (1UL << b)) != 0).Select(b => Name(b, deviceId) ?? $"bit_{b}"));
}
