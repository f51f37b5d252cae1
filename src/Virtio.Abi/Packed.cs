using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi;

/// <summary>struct vring_packed_desc (16 bytes). Spec: VIRTIO 1.3 §2.8.13.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtqPackedDesc
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 16;
    /// <summary>Buffer address.</summary>
    public ulong Addr;
    /// <summary>Buffer length.</summary>
    public uint Len;
    /// <summary>Buffer id.</summary>
    public ushort Id;
    /// <summary>PackedDescFlags.</summary>
    public ushort Flags;
}

/// <summary>struct vring_packed_desc_event: driver/device event suppression area (4 bytes). Spec: §2.8.14.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtqPackedDescEvent
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 4;
    /// <summary>Descriptor ring change event offset (bits 0..14) and wrap counter (bit 15).</summary>
    public ushort OffWrap;
    /// <summary>PackedEventFlags.</summary>
    public ushort Flags;
}

/// <summary>Packed descriptor flags. Spec: §2.8.1, §2.8.13.</summary>
[Flags]
public enum PackedDescFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>VRING_DESC_F_NEXT.</summary>
    Next = 1,
    /// <summary>VRING_DESC_F_WRITE.</summary>
    Write = 2,
    /// <summary>VRING_DESC_F_INDIRECT.</summary>
    Indirect = 4,
    /// <summary>VRING_PACKED_DESC_F_AVAIL (bit 7).</summary>
    Avail = 1 << 7,
    /// <summary>VRING_PACKED_DESC_F_USED (bit 15).</summary>
    Used = 1 << 15,
}

/// <summary>Packed ring event suppression flags (RING_EVENT_FLAGS_*). Spec: §2.8.14.</summary>
public enum PackedEventFlags : ushort
{
    /// <summary>VRING_PACKED_EVENT_FLAG_ENABLE.</summary>
    Enable = 0,
    /// <summary>VRING_PACKED_EVENT_FLAG_DISABLE.</summary>
    Disable = 1,
    /// <summary>VRING_PACKED_EVENT_FLAG_DESC.</summary>
    Desc = 2,
}
