namespace Uvdpa.Virtio.Queues;

/// <summary>
/// Byte layout of one split virtqueue in a single block (vring_size() plus an optional indirect-table pool): offsets
/// are from the start of the block. Spec: VIRTIO 1.3 §2.7 (alignment table), §2.7.5, §2.7.6, §2.7.8.
/// </summary>
/// <param name="DescriptorTableOffset">Offset of the descriptor table (always 0).</param>
/// <param name="DescriptorTableBytes">16 × size.</param>
/// <param name="AvailOffset">Offset of the driver area (available ring), right after the table.</param>
/// <param name="AvailBytes">6 + 2 × size (flags, idx, ring, used_event).</param>
/// <param name="UsedOffset">Offset of the device area (used ring), aligned to the requested alignment.</param>
/// <param name="UsedBytes">6 + 8 × size (flags, idx, ring, avail_event).</param>
/// <param name="IndirectPoolOffset">Offset of the indirect pool (16-byte aligned), or the end of the used ring when there is none.</param>
/// <param name="IndirectPoolBytes">size × maxIndirectSegments × 16, or 0.</param>
/// <param name="TotalBytes">Bytes to allocate for the whole block.</param>
public readonly record struct SplitRingLayoutInfo(
    long DescriptorTableOffset,
    long DescriptorTableBytes,
    long AvailOffset,
    long AvailBytes,
    long UsedOffset,
    long UsedBytes,
    long IndirectPoolOffset,
    long IndirectPoolBytes,
    long TotalBytes);
