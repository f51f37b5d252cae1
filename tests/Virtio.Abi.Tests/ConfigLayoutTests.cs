using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi.Tests;

/// <summary>Config-space offset constants against the Linux 6.12 uapi structs (transcribed below as packed mirrors).</summary>
public class ConfigLayoutTests
{
    /// <summary>Transcription of Linux 6.12 include/uapi/linux/virtio_blk.h struct virtio_blk_config (packed).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct LinuxVirtioBlkConfig
    {
        public ulong capacity;
        public uint size_max;
        public uint seg_max;
        public ushort geometry_cylinders;
        public byte geometry_heads;
        public byte geometry_sectors;
        public uint blk_size;
        public byte physical_block_exp;
        public byte alignment_offset;
        public ushort min_io_size;
        public uint opt_io_size;
        public byte wce;
        public byte unused;
        public ushort num_queues;
        public uint max_discard_sectors;
        public uint max_discard_seg;
        public uint discard_sector_alignment;
        public uint max_write_zeroes_sectors;
        public uint max_write_zeroes_seg;
        public byte write_zeroes_may_unmap;
        public byte unused1_0, unused1_1, unused1_2;
        public uint max_secure_erase_sectors;
        public uint max_secure_erase_seg;
        public uint secure_erase_sector_alignment;
        // struct virtio_blk_zoned_characteristics zoned
        public uint zoned_zone_sectors;
        public uint zoned_max_open_zones;
        public uint zoned_max_active_zones;
        public uint zoned_max_append_sectors;
        public uint zoned_write_granularity;
        public byte zoned_model;
        public byte unused2_0, unused2_1, unused2_2;
    }

    /// <summary>Transcription of struct virtio_net_config (packed), Linux include/uapi/linux/virtio_net.h.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct LinuxVirtioNetConfig
    {
        public byte mac0, mac1, mac2, mac3, mac4, mac5;
        public ushort status;
        public ushort max_virtqueue_pairs;
        public ushort mtu;
        public uint speed;
        public byte duplex;
        public byte rss_max_key_size;
        public ushort rss_max_indirection_table_length;
        public uint supported_hash_types;
    }

    public static TheoryData<int, int, string> BlkOffsets => new()
    {
        // constant, value from the kernel header, mirror field
        { VirtioBlkConfig.CapacityOffset, 0, nameof(LinuxVirtioBlkConfig.capacity) },
        { VirtioBlkConfig.SizeMaxOffset, 8, nameof(LinuxVirtioBlkConfig.size_max) },
        { VirtioBlkConfig.SegMaxOffset, 12, nameof(LinuxVirtioBlkConfig.seg_max) },
        { VirtioBlkConfig.GeometryCylindersOffset, 16, nameof(LinuxVirtioBlkConfig.geometry_cylinders) },
        { VirtioBlkConfig.GeometryHeadsOffset, 18, nameof(LinuxVirtioBlkConfig.geometry_heads) },
        { VirtioBlkConfig.GeometrySectorsOffset, 19, nameof(LinuxVirtioBlkConfig.geometry_sectors) },
        { VirtioBlkConfig.BlkSizeOffset, 20, nameof(LinuxVirtioBlkConfig.blk_size) },
        { VirtioBlkConfig.PhysicalBlockExpOffset, 24, nameof(LinuxVirtioBlkConfig.physical_block_exp) },
        { VirtioBlkConfig.AlignmentOffsetOffset, 25, nameof(LinuxVirtioBlkConfig.alignment_offset) },
        { VirtioBlkConfig.MinIoSizeOffset, 26, nameof(LinuxVirtioBlkConfig.min_io_size) },
        { VirtioBlkConfig.OptIoSizeOffset, 28, nameof(LinuxVirtioBlkConfig.opt_io_size) },
        { VirtioBlkConfig.WritebackOffset, 32, nameof(LinuxVirtioBlkConfig.wce) },
        { VirtioBlkConfig.Unused0Offset, 33, nameof(LinuxVirtioBlkConfig.unused) },
        { VirtioBlkConfig.NumQueuesOffset, 34, nameof(LinuxVirtioBlkConfig.num_queues) },
        { VirtioBlkConfig.MaxDiscardSectorsOffset, 36, nameof(LinuxVirtioBlkConfig.max_discard_sectors) },
        { VirtioBlkConfig.MaxDiscardSegOffset, 40, nameof(LinuxVirtioBlkConfig.max_discard_seg) },
        { VirtioBlkConfig.DiscardSectorAlignmentOffset, 44, nameof(LinuxVirtioBlkConfig.discard_sector_alignment) },
        { VirtioBlkConfig.MaxWriteZeroesSectorsOffset, 48, nameof(LinuxVirtioBlkConfig.max_write_zeroes_sectors) },
        { VirtioBlkConfig.MaxWriteZeroesSegOffset, 52, nameof(LinuxVirtioBlkConfig.max_write_zeroes_seg) },
        { VirtioBlkConfig.WriteZeroesMayUnmapOffset, 56, nameof(LinuxVirtioBlkConfig.write_zeroes_may_unmap) },
        { VirtioBlkConfig.MaxSecureEraseSectorsOffset, 60, nameof(LinuxVirtioBlkConfig.max_secure_erase_sectors) },
        { VirtioBlkConfig.MaxSecureEraseSegOffset, 64, nameof(LinuxVirtioBlkConfig.max_secure_erase_seg) },
        { VirtioBlkConfig.SecureEraseSectorAlignmentOffset, 68, nameof(LinuxVirtioBlkConfig.secure_erase_sector_alignment) },
        { VirtioBlkConfig.ZonedOffset, 72, nameof(LinuxVirtioBlkConfig.zoned_zone_sectors) },
    };

    [Theory]
    [MemberData(nameof(BlkOffsets))]
    public void BlkConfigOffset_MatchesLinux612Uapi(int constant, int expected, string mirrorField)
    {
        Assert.Equal(expected, constant);
        Assert.Equal(expected, (int)Marshal.OffsetOf<LinuxVirtioBlkConfig>(mirrorField));
    }

    [Fact]
    public void BlkConfigSize_Is96()
    {
        Assert.Equal(96, VirtioBlkConfig.Size);
        Assert.Equal(96, Marshal.SizeOf<LinuxVirtioBlkConfig>());
    }

    [Fact]
    public void BlkSectorConstants()
    {
        Assert.Equal(512, VirtioBlkConfig.SectorSize);
        Assert.Equal(VirtioBlkConfig.SectorSize, 1 << VirtioBlkConfig.SectorShift);
        Assert.Equal(20, BlkId.Bytes);
    }

    public static TheoryData<int, int, string> NetOffsets => new()
    {
        { VirtioNetConfig.MacOffset, 0, nameof(LinuxVirtioNetConfig.mac0) },
        { VirtioNetConfig.StatusOffset, 6, nameof(LinuxVirtioNetConfig.status) },
        { VirtioNetConfig.MaxVirtqueuePairsOffset, 8, nameof(LinuxVirtioNetConfig.max_virtqueue_pairs) },
        { VirtioNetConfig.MtuOffset, 10, nameof(LinuxVirtioNetConfig.mtu) },
        { VirtioNetConfig.SpeedOffset, 12, nameof(LinuxVirtioNetConfig.speed) },
        { VirtioNetConfig.DuplexOffset, 16, nameof(LinuxVirtioNetConfig.duplex) },
        { VirtioNetConfig.RssMaxKeySizeOffset, 17, nameof(LinuxVirtioNetConfig.rss_max_key_size) },
        { VirtioNetConfig.RssMaxIndirectionTableLengthOffset, 18, nameof(LinuxVirtioNetConfig.rss_max_indirection_table_length) },
        { VirtioNetConfig.SupportedHashTypesOffset, 20, nameof(LinuxVirtioNetConfig.supported_hash_types) },
    };

    [Theory]
    [MemberData(nameof(NetOffsets))]
    public void NetConfigOffset_MatchesSpec(int constant, int expected, string mirrorField)
    {
        Assert.Equal(expected, constant);
        Assert.Equal(expected, (int)Marshal.OffsetOf<LinuxVirtioNetConfig>(mirrorField));
    }

    [Fact]
    public void NetConfigSize_Is24()
    {
        Assert.Equal(24, VirtioNetConfig.Size);
        Assert.Equal(24, Marshal.SizeOf<LinuxVirtioNetConfig>());
    }

    [Fact]
    public void NetConfigStatusBits()
    {
        Assert.Equal(1, VirtioNetConfig.StatusLinkUp);
        Assert.Equal(2, VirtioNetConfig.StatusAnnounce);
    }
}
