using System.Runtime.InteropServices;

namespace Uvdpa.Vhost.User;

/// <summary>VhostUserHeader (vhost-user.rst "Header"): request u32, flags u32, size u32; host byte order, 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct VhostUserHeader
{
    /// <summary>Wire size.</summary>
    public const int Size = 12;
    /// <summary>Protocol version in bits 0–1 of <see cref="Flags"/>.</summary>
    public const uint Version = 0x1;
    /// <summary>VHOST_USER_VERSION_MASK.</summary>
    public const uint VersionMask = 0x3;
    /// <summary>VHOST_USER_REPLY_MASK (bit 2).</summary>
    public const uint ReplyFlag = 0x4;
    /// <summary>VHOST_USER_NEED_REPLY_MASK (bit 3).</summary>
    public const uint NeedReplyFlag = 0x8;
    /// <summary>Largest payload accepted (rust-vmm's MAX_MSG_SIZE); larger means the stream is garbage.</summary>
    public const uint MaxPayload = 4096;

    /// <summary>Message id.</summary>
    public uint Request;
    /// <summary>Version and REPLY/NEED_REPLY bits.</summary>
    public uint Flags;
    /// <summary>Payload length.</summary>
    public uint PayloadSize;

    /// <summary>True when NEED_REPLY is set.</summary>
    public readonly bool NeedsReply => (Flags & NeedReplyFlag) != 0;

    /// <summary>Reads a header.</summary>
    public static VhostUserHeader Read(ReadOnlySpan<byte> source) => MemoryMarshal.Read<VhostUserHeader>(source);

    /// <summary>Writes the header.</summary>
    public readonly void Write(Span<byte> destination) => MemoryMarshal.Write(destination, in this);
}

/// <summary>struct vhost_vring_state (vhost-user.rst "A vring state description"): index, num. 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VhostVringState
{
    /// <summary>Wire size.</summary>
    public const int Size = 8;
    /// <summary>Vring index.</summary>
    public uint Index;
    /// <summary>Number (size, base, enable flag depending on the request).</summary>
    public uint Num;
}

/// <summary>struct vhost_vring_addr (vhost-user.rst "A vring address description"): index, flags, desc, used, avail, log. 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VhostVringAddr
{
    /// <summary>Wire size.</summary>
    public const int Size = 40;
    /// <summary>VHOST_VRING_F_LOG.</summary>
    public const uint FlagLog = 1;
    /// <summary>Vring index.</summary>
    public uint Index;
    /// <summary>Flags (bit 0: log).</summary>
    public uint Flags;
    /// <summary>Descriptor table, front-end virtual address.</summary>
    public ulong DescUserAddr;
    /// <summary>Used ring, front-end virtual address.</summary>
    public ulong UsedUserAddr;
    /// <summary>Available ring, front-end virtual address.</summary>
    public ulong AvailUserAddr;
    /// <summary>Guest address of the used ring for dirty logging (ignored: no LOG_SHMFD).</summary>
    public ulong LogGuestAddr;
}

/// <summary>VhostUserMemoryRegion (vhost-user.rst "Memory region description"). 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VhostUserMemoryRegion
{
    /// <summary>Wire size.</summary>
    public const int Size = 32;
    /// <summary>Guest physical address.</summary>
    public ulong GuestPhysAddr;
    /// <summary>Length in bytes.</summary>
    public ulong MemorySize;
    /// <summary>Front-end virtual address.</summary>
    public ulong UserspaceAddr;
    /// <summary>Offset of the region in the passed fd.</summary>
    public ulong MmapOffset;
}

/// <summary>VhostUserMemory (vhost-user.rst "Multiple Memory regions description"): nregions u32, padding u32, then regions.</summary>
public static class VhostUserMemory
{
    /// <summary>Size of the nregions + padding prefix.</summary>
    public const int HeaderSize = 8;
    /// <summary>VHOST_MEMORY_BASELINE_NREGIONS.</summary>
    public const int MaxRegions = 8;
}

/// <summary>VhostUserConfig (vhost-user.rst "Device config space"): offset, size, flags, then size bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VhostUserConfigHeader
{
    /// <summary>Size of the fixed part.</summary>
    public const int Size = 12;
    /// <summary>VHOST_USER_MAX_CONFIG_SIZE (QEMU).</summary>
    public const uint MaxConfigSize = 256;
    /// <summary>VHOST_SET_CONFIG_TYPE_FRONTEND.</summary>
    public const uint FlagFrontend = 0;
    /// <summary>VHOST_SET_CONFIG_TYPE_MIGRATION.</summary>
    public const uint FlagMigration = 1;
    /// <summary>Offset in config space.</summary>
    public uint Offset;
    /// <summary>Number of config bytes that follow.</summary>
    public uint ConfigSize;
    /// <summary>Flags.</summary>
    public uint Flags;
}

/// <summary>VhostUserInflight (vhost-user.rst "Inflight description"): mmap_size, mmap_offset, num_queues, queue_size + 4 padding. 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VhostUserInflight
{
    /// <summary>Wire size (natural alignment pads to 24).</summary>
    public const int Size = 24;
    /// <summary>Size of the shared region.</summary>
    public ulong MmapSize;
    /// <summary>Offset in the fd.</summary>
    public ulong MmapOffset;
    /// <summary>Number of queues.</summary>
    public ushort NumQueues;
    /// <summary>Queue size.</summary>
    public ushort QueueSize;
}

/// <summary>The u64 of SET_VRING_KICK/CALL/ERR: bits 0–7 vring index, bit 8 NOFD, other bits must be zero.</summary>
public static class VringFdIndex
{
    /// <summary>VHOST_USER_VRING_IDX_MASK.</summary>
    public const ulong IndexMask = 0xff;
    /// <summary>VHOST_USER_VRING_NOFD_MASK.</summary>
    public const ulong NoFdFlag = 0x100;
}
