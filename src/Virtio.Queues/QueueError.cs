namespace Uvdpa.Virtio.Queues;

/// <summary>Why a queue became broken (sticky until reset). Each value is a driver (guest) fault, never a device bug.</summary>
public enum QueueError
{
    /// <summary>Not broken.</summary>
    None = 0,
    /// <summary>Ring areas unmapped, misaligned, or not accessible with the needed rights.</summary>
    RingUnmapped,
    /// <summary>The avail index moved by more than the queue size.</summary>
    AvailIndexJump,
    /// <summary>A head or next index is not below the queue (or indirect table) size.</summary>
    IndexOutOfRange,
    /// <summary>The chain is longer than the queue size (a loop, or simply too long).</summary>
    ChainTooLong,
    /// <summary>An indirect descriptor inside an indirect table.</summary>
    NestedIndirect,
    /// <summary>An indirect descriptor that also has NEXT set.</summary>
    IndirectWithNext,
    /// <summary>An indirect table whose length is zero or not a multiple of 16.</summary>
    BadIndirectTable,
    /// <summary>The sum of buffer lengths exceeds 4 GiB - 1.</summary>
    LengthOverflow,
    /// <summary>A device-readable descriptor after a device-writable one.</summary>
    ReadableAfterWritable,
    /// <summary>A buffer is unmapped, or a device-writable buffer is not writable.</summary>
    BufferUnmapped,
    /// <summary>The used ring could not be written, or a used id was not in flight (driver side).</summary>
    UsedRingFault,
    /// <summary>An indirect descriptor while VIRTIO_RING_F_INDIRECT_DESC was not negotiated.</summary>
    IndirectNotNegotiated,
}
