using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi;

/// <summary>virtio-blk feature bits (VIRTIO_BLK_F_*). Spec: VIRTIO 1.3 §5.2.3.</summary>
public static class BlkFeatures
{
    /// <summary>VIRTIO_BLK_F_BARRIER (legacy).</summary>
    public const int Barrier = 0;
    /// <summary>VIRTIO_BLK_F_SIZE_MAX.</summary>
    public const int SizeMax = 1;
    /// <summary>VIRTIO_BLK_F_SEG_MAX.</summary>
    public const int SegMax = 2;
    /// <summary>VIRTIO_BLK_F_GEOMETRY.</summary>
    public const int Geometry = 4;
    /// <summary>VIRTIO_BLK_F_RO.</summary>
    public const int Ro = 5;
    /// <summary>VIRTIO_BLK_F_BLK_SIZE.</summary>
    public const int BlkSize = 6;
    /// <summary>VIRTIO_BLK_F_SCSI (legacy).</summary>
    public const int Scsi = 7;
    /// <summary>VIRTIO_BLK_F_FLUSH.</summary>
    public const int Flush = 9;
    /// <summary>VIRTIO_BLK_F_TOPOLOGY.</summary>
    public const int Topology = 10;
    /// <summary>VIRTIO_BLK_F_CONFIG_WCE.</summary>
    public const int ConfigWce = 11;
    /// <summary>VIRTIO_BLK_F_MQ.</summary>
    public const int Mq = 12;
    /// <summary>VIRTIO_BLK_F_DISCARD.</summary>
    public const int Discard = 13;
    /// <summary>VIRTIO_BLK_F_WRITE_ZEROES.</summary>
    public const int WriteZeroes = 14;
    /// <summary>VIRTIO_BLK_F_SECURE_ERASE.</summary>
    public const int SecureErase = 16;
    /// <summary>VIRTIO_BLK_F_ZONED.</summary>
    public const int Zoned = 17;
}

/// <summary>struct virtio_blk_config field offsets (little-endian). Spec: §5.2.4; Linux include/uapi/linux/virtio_blk.h.</summary>
public static class VirtioBlkConfig
{
    /// <summary>sizeof(struct virtio_blk_config) in Linux 6.12 uapi (with secure-erase and zoned fields).</summary>
    public const int Size = 96;
    /// <summary>capacity (u64, 512-byte sectors).</summary>
    public const int CapacityOffset = 0;
    /// <summary>size_max (u32).</summary>
    public const int SizeMaxOffset = 8;
    /// <summary>seg_max (u32).</summary>
    public const int SegMaxOffset = 12;
    /// <summary>geometry.cylinders (u16).</summary>
    public const int GeometryCylindersOffset = 16;
    /// <summary>geometry.heads (u8).</summary>
    public const int GeometryHeadsOffset = 18;
    /// <summary>geometry.sectors (u8).</summary>
    public const int GeometrySectorsOffset = 19;
    /// <summary>blk_size (u32).</summary>
    public const int BlkSizeOffset = 20;
    /// <summary>physical_block_exp (u8).</summary>
    public const int PhysicalBlockExpOffset = 24;
    /// <summary>alignment_offset (u8).</summary>
    public const int AlignmentOffsetOffset = 25;
    /// <summary>min_io_size (u16).</summary>
    public const int MinIoSizeOffset = 26;
    /// <summary>opt_io_size (u32).</summary>
    public const int OptIoSizeOffset = 28;
    /// <summary>wce / writeback (u8).</summary>
    public const int WritebackOffset = 32;
    /// <summary>unused0 (u8).</summary>
    public const int Unused0Offset = 33;
    /// <summary>num_queues (u16).</summary>
    public const int NumQueuesOffset = 34;
    /// <summary>max_discard_sectors (u32).</summary>
    public const int MaxDiscardSectorsOffset = 36;
    /// <summary>max_discard_seg (u32).</summary>
    public const int MaxDiscardSegOffset = 40;
    /// <summary>discard_sector_alignment (u32).</summary>
    public const int DiscardSectorAlignmentOffset = 44;
    /// <summary>max_write_zeroes_sectors (u32).</summary>
    public const int MaxWriteZeroesSectorsOffset = 48;
    /// <summary>max_write_zeroes_seg (u32).</summary>
    public const int MaxWriteZeroesSegOffset = 52;
    /// <summary>write_zeroes_may_unmap (u8).</summary>
    public const int WriteZeroesMayUnmapOffset = 56;
    /// <summary>max_secure_erase_sectors (u32).</summary>
    public const int MaxSecureEraseSectorsOffset = 60;
    /// <summary>max_secure_erase_seg (u32).</summary>
    public const int MaxSecureEraseSegOffset = 64;
    /// <summary>secure_erase_sector_alignment (u32).</summary>
    public const int SecureEraseSectorAlignmentOffset = 68;
    /// <summary>zoned.zone_sectors (u32), first field of struct virtio_blk_zoned_characteristics.</summary>
    public const int ZonedOffset = 72;
    /// <summary>Sector size used by the request header.</summary>
    public const int SectorSize = 512;
    /// <summary>log2(SectorSize).</summary>
    public const int SectorShift = 9;
}

/// <summary>struct virtio_blk_outhdr (16 bytes). Spec: §5.2.6.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioBlkOutHdr
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 16;
    /// <summary>BlkRequestType.</summary>
    public uint Type;
    /// <summary>Priority (ioprio).</summary>
    public uint IoPrio;
    /// <summary>Start sector (512-byte units).</summary>
    public ulong Sector;
}

/// <summary>Block request types (VIRTIO_BLK_T_*). Spec: §5.2.6.</summary>
public enum BlkRequestType : uint
{
    /// <summary>VIRTIO_BLK_T_IN (read).</summary>
    In = 0,
    /// <summary>VIRTIO_BLK_T_OUT (write).</summary>
    Out = 1,
    /// <summary>VIRTIO_BLK_T_FLUSH.</summary>
    Flush = 4,
    /// <summary>VIRTIO_BLK_T_GET_ID.</summary>
    GetId = 8,
    /// <summary>VIRTIO_BLK_T_GET_LIFETIME.</summary>
    GetLifetime = 10,
    /// <summary>VIRTIO_BLK_T_DISCARD.</summary>
    Discard = 11,
    /// <summary>VIRTIO_BLK_T_WRITE_ZEROES.</summary>
    WriteZeroes = 13,
    /// <summary>VIRTIO_BLK_T_SECURE_ERASE.</summary>
    SecureErase = 14,
}

/// <summary>Block request status (VIRTIO_BLK_S_*). Spec: §5.2.6.</summary>
public enum BlkStatus : byte
{
    /// <summary>VIRTIO_BLK_S_OK.</summary>
    Ok = 0,
    /// <summary>VIRTIO_BLK_S_IOERR.</summary>
    IoErr = 1,
    /// <summary>VIRTIO_BLK_S_UNSUPP.</summary>
    Unsupp = 2,
}

/// <summary>struct virtio_blk_discard_write_zeroes (16 bytes). Spec: §5.2.6.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioBlkDiscardWriteZeroes
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 16;
    /// <summary>First sector.</summary>
    public ulong Sector;
    /// <summary>Number of sectors.</summary>
    public uint NumSectors;
    /// <summary>Flags: bit 0 = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.</summary>
    public uint Flags;

    /// <summary>VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.</summary>
    public const uint FlagUnmap = 1;
}

/// <summary>Length of the GET_ID string (VIRTIO_BLK_ID_BYTES).</summary>
public static class BlkId
{
    /// <summary>VIRTIO_BLK_ID_BYTES.</summary>
    public const int Bytes = 20;
}
