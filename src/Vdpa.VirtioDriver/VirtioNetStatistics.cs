namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>Counters of a <see cref="VirtioNetDevice"/> (rtnl_link_stats64 subset), cumulative since probe.</summary>
/// <param name="TxPackets">Frames queued for transmission.</param>
/// <param name="TxBytes">Bytes of those frames (without the virtio-net header).</param>
/// <param name="TxDropped">Frames <see cref="VirtioNetDevice.TrySend"/> refused because the TX ring was full.</param>
/// <param name="RxPackets">Frames received.</param>
/// <param name="RxBytes">Bytes of those frames (without the virtio-net header).</param>
/// <param name="RxDropped">Used buffers discarded because the device reported an impossible length.</param>
public readonly record struct VirtioNetStatistics(long TxPackets, long TxBytes, long TxDropped, long RxPackets, long RxBytes, long RxDropped);
