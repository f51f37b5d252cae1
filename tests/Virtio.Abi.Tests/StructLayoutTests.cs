using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Uvdpa.Virtio.Abi.Tests;

/// <summary>Wire-struct sizes and field offsets against VIRTIO 1.3 and the Linux uapi headers.</summary>
public class StructLayoutTests
{
    public static TheoryData<Type, int, int> Sizes => new()
    {
        // type, expected sizeof (spec / uapi), the type's own Size constant
        { typeof(VirtqDesc), 16, VirtqDesc.Size },
        { typeof(VirtqUsedElem), 8, VirtqUsedElem.Size },
        { typeof(VirtqPackedDesc), 16, VirtqPackedDesc.Size },
        { typeof(VirtqPackedDescEvent), 4, VirtqPackedDescEvent.Size },
        { typeof(VirtioNetHdrV1), 12, VirtioNetHdrV1.Size },
        { typeof(VirtioBlkOutHdr), 16, VirtioBlkOutHdr.Size },
        { typeof(VirtioBlkDiscardWriteZeroes), 16, VirtioBlkDiscardWriteZeroes.Size },
        { typeof(VirtioNetCtrlHdr), 2, VirtioNetCtrlHdr.Size },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MarshalSize_MatchesSpec(Type type, int expected, int constant)
    {
        Assert.Equal(expected, Marshal.SizeOf(type));
        Assert.Equal(expected, constant);
    }

    [Fact]
    public void UnsafeSize_MatchesSpec()
    {
        Assert.Equal(16, Unsafe.SizeOf<VirtqDesc>());
        Assert.Equal(8, Unsafe.SizeOf<VirtqUsedElem>());
        Assert.Equal(16, Unsafe.SizeOf<VirtqPackedDesc>());
        Assert.Equal(4, Unsafe.SizeOf<VirtqPackedDescEvent>());
        Assert.Equal(12, Unsafe.SizeOf<VirtioNetHdrV1>());
        Assert.Equal(16, Unsafe.SizeOf<VirtioBlkOutHdr>());
        Assert.Equal(16, Unsafe.SizeOf<VirtioBlkDiscardWriteZeroes>());
        Assert.Equal(2, Unsafe.SizeOf<VirtioNetCtrlHdr>());
    }

    public static TheoryData<Type, string, int> Offsets => new()
    {
        // struct vring_desc: le64 addr; le32 len; le16 flags; le16 next. Spec §2.7.5.
        { typeof(VirtqDesc), nameof(VirtqDesc.Addr), 0 },
        { typeof(VirtqDesc), nameof(VirtqDesc.Len), 8 },
        { typeof(VirtqDesc), nameof(VirtqDesc.Flags), 12 },
        { typeof(VirtqDesc), nameof(VirtqDesc.Next), 14 },
        // struct vring_used_elem: le32 id; le32 len. Spec §2.7.8.
        { typeof(VirtqUsedElem), nameof(VirtqUsedElem.Id), 0 },
        { typeof(VirtqUsedElem), nameof(VirtqUsedElem.Len), 4 },
        // struct vring_packed_desc: le64 addr; le32 len; le16 id; le16 flags. Spec §2.8.13.
        { typeof(VirtqPackedDesc), nameof(VirtqPackedDesc.Addr), 0 },
        { typeof(VirtqPackedDesc), nameof(VirtqPackedDesc.Len), 8 },
        { typeof(VirtqPackedDesc), nameof(VirtqPackedDesc.Id), 12 },
        { typeof(VirtqPackedDesc), nameof(VirtqPackedDesc.Flags), 14 },
        // struct vring_packed_desc_event: le16 off_wrap; le16 flags. Spec §2.8.14.
        { typeof(VirtqPackedDescEvent), nameof(VirtqPackedDescEvent.OffWrap), 0 },
        { typeof(VirtqPackedDescEvent), nameof(VirtqPackedDescEvent.Flags), 2 },
        // struct virtio_net_hdr_v1. Spec §5.1.6.
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.Flags), 0 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.GsoType), 1 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.HdrLen), 2 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.GsoSize), 4 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.CsumStart), 6 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.CsumOffset), 8 },
        { typeof(VirtioNetHdrV1), nameof(VirtioNetHdrV1.NumBuffers), 10 },
        // struct virtio_blk_outhdr: le32 type; le32 ioprio; le64 sector. Spec §5.2.6.
        { typeof(VirtioBlkOutHdr), nameof(VirtioBlkOutHdr.Type), 0 },
        { typeof(VirtioBlkOutHdr), nameof(VirtioBlkOutHdr.IoPrio), 4 },
        { typeof(VirtioBlkOutHdr), nameof(VirtioBlkOutHdr.Sector), 8 },
        // struct virtio_blk_discard_write_zeroes: le64 sector; le32 num_sectors; le32 flags. Spec §5.2.6.
        { typeof(VirtioBlkDiscardWriteZeroes), nameof(VirtioBlkDiscardWriteZeroes.Sector), 0 },
        { typeof(VirtioBlkDiscardWriteZeroes), nameof(VirtioBlkDiscardWriteZeroes.NumSectors), 8 },
        { typeof(VirtioBlkDiscardWriteZeroes), nameof(VirtioBlkDiscardWriteZeroes.Flags), 12 },
        // struct virtio_net_ctrl_hdr: u8 class; u8 cmd. Spec §5.1.6.5.
        { typeof(VirtioNetCtrlHdr), nameof(VirtioNetCtrlHdr.Class), 0 },
        { typeof(VirtioNetCtrlHdr), nameof(VirtioNetCtrlHdr.Cmd), 1 },
    };

    [Theory]
    [MemberData(nameof(Offsets))]
    public void FieldOffset_MatchesSpec(Type type, string field, int expected)
        => Assert.Equal(expected, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void NetHdr_LegacySizeIsOffsetOfNumBuffers()
    {
        Assert.Equal(10, VirtioNetHdrV1.LegacySize);
        Assert.Equal(VirtioNetHdrV1.LegacySize, (int)Marshal.OffsetOf<VirtioNetHdrV1>(nameof(VirtioNetHdrV1.NumBuffers)));
    }

    [Fact]
    public void VirtqDesc_ReadsLittleEndianWireBytes()
    {
        byte[] wire =
        [
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // addr
            0x44, 0x33, 0x22, 0x11,                         // len
            0x03, 0x00,                                     // flags NEXT|WRITE
            0x2a, 0x00,                                     // next
        ];
        var d = MemoryMarshal.Read<VirtqDesc>(wire);
        Assert.Equal(0x0102030405060708UL, d.Addr);
        Assert.Equal(0x11223344U, d.Len);
        Assert.Equal((ushort)(VirtqDescFlags.Next | VirtqDescFlags.Write), d.Flags);
        Assert.Equal(42, d.Next);

        var back = new byte[VirtqDesc.Size];
        MemoryMarshal.Write(back, in d);
        Assert.Equal(wire, back);
    }

    [Fact]
    public void VirtqPackedDesc_ReadsLittleEndianWireBytes()
    {
        byte[] wire = [1, 0, 0, 0, 0, 0, 0, 0x80, 0x10, 0, 0, 0, 7, 0, 0x80, 0x80];
        var d = MemoryMarshal.Read<VirtqPackedDesc>(wire);
        Assert.Equal(0x8000000000000001UL, d.Addr);
        Assert.Equal(16U, d.Len);
        Assert.Equal(7, d.Id);
        Assert.Equal((ushort)(PackedDescFlags.Avail | PackedDescFlags.Used), d.Flags);
    }

    [Fact]
    public void BlkOutHdr_ReadsLittleEndianWireBytes()
    {
        byte[] wire = [1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x20, 0, 0, 0, 0, 0, 0];
        var h = MemoryMarshal.Read<VirtioBlkOutHdr>(wire);
        Assert.Equal((uint)BlkRequestType.Out, h.Type);
        Assert.Equal(0U, h.IoPrio);
        Assert.Equal(0x2010UL, h.Sector);
    }
}
