using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi;

/// <summary>struct vring_desc / virtq_desc: one split-ring descriptor (16 bytes, little-endian). Spec: VIRTIO 1.3 §2.7.5.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtqDesc
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 16;
    /// <summary>Buffer address (device's DMA address space).</summary>
    public ulong Addr;
    /// <summary>Buffer length.</summary>
    public uint Len;
    /// <summary>VirtqDescFlags.</summary>
    public ushort Flags;
    /// <summary>Index of the next descriptor when NEXT is set.</summary>
    public ushort Next;
}

/// <summary>Split-ring descriptor flags (VRING_DESC_F_*). Spec: VIRTIO 1.3 §2.7.5.</summary>
[Flags]
public enum VirtqDescFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>VRING_DESC_F_NEXT: the chain continues via Next.</summary>
    Next = 1,
    /// <summary>VRING_DESC_F_WRITE: device-writable buffer.</summary>
    Write = 2,
    /// <summary>VRING_DESC_F_INDIRECT: the buffer holds a table of descriptors.</summary>
    Indirect = 4,
}

/// <summary>struct vring_used_elem / virtq_used_elem (8 bytes). Spec: VIRTIO 1.3 §2.7.8.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtqUsedElem
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 8;
    /// <summary>Head index of the used descriptor chain (u32 for padding).</summary>
    public uint Id;
    /// <summary>Bytes written into the device-writable part of the chain.</summary>
    public uint Len;
}

/// <summary>Layout of the split ring's driver (avail) and device (used) areas. Spec: VIRTIO 1.3 §2.7.6, §2.7.8.</summary>
public static class SplitRingLayout
{
    /// <summary>VRING_AVAIL_F_NO_INTERRUPT.</summary>
    public const ushort AvailFlagNoInterrupt = 1;
    /// <summary>VRING_USED_F_NO_NOTIFY.</summary>
    public const ushort UsedFlagNoNotify = 1;
    /// <summary>Largest split queue size (2^15). Spec: §2.7 "Queue Size ... maximum 32768".</summary>
    public const int MaxQueueSize = 32768;

    /// <summary>Offset of avail.flags.</summary>
    public const int AvailFlagsOffset = 0;
    /// <summary>Offset of avail.idx.</summary>
    public const int AvailIdxOffset = 2;
    /// <summary>Offset of avail.ring[0].</summary>
    public const int AvailRingOffset = 4;
    /// <summary>Offset of used.flags.</summary>
    public const int UsedFlagsOffset = 0;
    /// <summary>Offset of used.idx.</summary>
    public const int UsedIdxOffset = 2;
    /// <summary>Offset of used.ring[0].</summary>
    public const int UsedRingOffset = 4;

    /// <summary>Bytes of the descriptor table for <paramref name="queueSize"/> entries.</summary>
    public static long DescTableSize(int queueSize) => 16L * queueSize;
    /// <summary>Bytes of the avail ring (with used_event).</summary>
    public static long AvailSize(int queueSize) => 6L + 2L * queueSize;
    /// <summary>Bytes of the used ring (with avail_event).</summary>
    public static long UsedSize(int queueSize) => 6L + 8L * queueSize;
    /// <summary>Offset of avail.used_event (after the ring).</summary>
    public static int UsedEventOffset(int queueSize) => 4 + 2 * queueSize;
    /// <summary>Offset of used.avail_event (after the ring).</summary>
    public static int AvailEventOffset(int queueSize) => 4 + 8 * queueSize;
    /// <summary>Required alignment of the descriptor table.</summary>
    public const int DescAlign = 16;
    /// <summary>Required alignment of the avail ring.</summary>
    public const int AvailAlign = 2;
    /// <summary>Required alignment of the used ring.</summary>
    public const int UsedAlign = 4;

    /// <summary>vring_need_event(): true if moving from <paramref name="oldIdx"/> to <paramref name="newIdx"/> crossed <paramref name="eventIdx"/>. Spec: §2.7.7.2 / §2.7.10.</summary>
    public static bool NeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx)
        => (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);
}
