namespace Uvdpa.Virtio.Abi.Tests;

/// <summary>Feature bit numbers against VIRTIO 1.3 §5.1.3, §5.2.3, §6 and the Linux uapi headers.</summary>
public class FeatureBitTests
{
    [Theory]
    [InlineData(VirtioFeatures.NotifyOnEmpty, 24)]
    [InlineData(VirtioFeatures.AnyLayout, 27)]
    [InlineData(VirtioFeatures.RingIndirectDesc, 28)]
    [InlineData(VirtioFeatures.RingEventIdx, 29)]
    [InlineData(VirtioFeatures.Version1, 32)]
    [InlineData(VirtioFeatures.AccessPlatform, 33)]
    [InlineData(VirtioFeatures.RingPacked, 34)]
    [InlineData(VirtioFeatures.InOrder, 35)]
    [InlineData(VirtioFeatures.OrderPlatform, 36)]
    [InlineData(VirtioFeatures.SrIov, 37)]
    [InlineData(VirtioFeatures.NotificationData, 38)]
    [InlineData(VirtioFeatures.NotifConfigData, 39)]
    [InlineData(VirtioFeatures.RingReset, 40)]
    [InlineData(VirtioFeatures.AdminVq, 41)]
    public void TransportBits(int actual, int expected) => Assert.Equal(expected, actual);

    [Fact]
    public void TransportRange_Linux612()
    {
        Assert.Equal(28, VirtioFeatures.TransportStart);
        Assert.Equal(42, VirtioFeatures.TransportEnd);
        Assert.Equal(VirtioFeatures.RingIndirectDesc, VirtioFeatures.TransportStart);
        Assert.Equal(VirtioFeatures.AdminVq + 1, VirtioFeatures.TransportEnd);
    }

    [Theory]
    [InlineData(NetFeatures.Csum, 0)]
    [InlineData(NetFeatures.GuestCsum, 1)]
    [InlineData(NetFeatures.CtrlGuestOffloads, 2)]
    [InlineData(NetFeatures.Mtu, 3)]
    [InlineData(NetFeatures.Mac, 5)]
    [InlineData(NetFeatures.GuestTso4, 7)]
    [InlineData(NetFeatures.GuestTso6, 8)]
    [InlineData(NetFeatures.GuestEcn, 9)]
    [InlineData(NetFeatures.GuestUfo, 10)]
    [InlineData(NetFeatures.HostTso4, 11)]
    [InlineData(NetFeatures.HostTso6, 12)]
    [InlineData(NetFeatures.HostEcn, 13)]
    [InlineData(NetFeatures.HostUfo, 14)]
    [InlineData(NetFeatures.MrgRxbuf, 15)]
    [InlineData(NetFeatures.Status, 16)]
    [InlineData(NetFeatures.CtrlVq, 17)]
    [InlineData(NetFeatures.CtrlRx, 18)]
    [InlineData(NetFeatures.CtrlVlan, 19)]
    [InlineData(NetFeatures.CtrlRxExtra, 20)]
    [InlineData(NetFeatures.GuestAnnounce, 21)]
    [InlineData(NetFeatures.Mq, 22)]
    [InlineData(NetFeatures.CtrlMacAddr, 23)]
    [InlineData(NetFeatures.HashReport, 57)]
    [InlineData(NetFeatures.Rss, 60)]
    [InlineData(NetFeatures.RscExt, 61)]
    [InlineData(NetFeatures.Standby, 62)]
    [InlineData(NetFeatures.SpeedDuplex, 63)]
    public void NetBits(int actual, int expected) => Assert.Equal(expected, actual);

    [Theory]
    [InlineData(BlkFeatures.Barrier, 0)]
    [InlineData(BlkFeatures.SizeMax, 1)]
    [InlineData(BlkFeatures.SegMax, 2)]
    [InlineData(BlkFeatures.Geometry, 4)]
    [InlineData(BlkFeatures.Ro, 5)]
    [InlineData(BlkFeatures.BlkSize, 6)]
    [InlineData(BlkFeatures.Scsi, 7)]
    [InlineData(BlkFeatures.Flush, 9)]
    [InlineData(BlkFeatures.Topology, 10)]
    [InlineData(BlkFeatures.ConfigWce, 11)]
    [InlineData(BlkFeatures.Mq, 12)]
    [InlineData(BlkFeatures.Discard, 13)]
    [InlineData(BlkFeatures.WriteZeroes, 14)]
    [InlineData(BlkFeatures.SecureErase, 16)]
    [InlineData(BlkFeatures.Zoned, 17)]
    public void BlkBits(int actual, int expected) => Assert.Equal(expected, actual);

    [Fact]
    public void VdpaSimNetFeatures_MatchKernelMask()
    {
        // drivers/vdpa/vdpa_sim/vdpa_sim_net.c VDPASIM_NET_FEATURES as reported by `vdpa dev config show`.
        ulong features = Mask(NetFeatures.Mtu, NetFeatures.Mac, NetFeatures.Status, NetFeatures.CtrlVq, NetFeatures.CtrlMacAddr,
            VirtioFeatures.AnyLayout, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform);
        Assert.Equal(0x308830028UL, features);
    }

    [Fact]
    public void VdpaSimBlkFeatures_MatchKernelMask()
    {
        // drivers/vdpa/vdpa_sim/vdpa_sim_blk.c VDPASIM_BLK_FEATURES (6.12).
        ulong features = Mask(VirtioFeatures.AnyLayout, VirtioFeatures.Version1, VirtioFeatures.AccessPlatform,
            BlkFeatures.Flush, BlkFeatures.SizeMax, BlkFeatures.SegMax, BlkFeatures.BlkSize, BlkFeatures.Topology,
            BlkFeatures.Mq, BlkFeatures.Discard, BlkFeatures.WriteZeroes);
        Assert.Equal(0x308007646UL, features);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(63)]
    public void Bit_And_Has_AgreeWithShift(int bit)
    {
        Assert.Equal(1UL << bit, VirtioFeatures.Bit(bit));
        Assert.True(VirtioFeatures.Has(VirtioFeatures.Bit(bit), bit));
        Assert.False(VirtioFeatures.Has(~VirtioFeatures.Bit(bit), bit));
        Assert.True(VirtioFeatures.Has(ulong.MaxValue, bit));
        Assert.False(VirtioFeatures.Has(0, bit));
    }

    [Fact]
    public void Has_DecodesVdpaSimNetMask()
    {
        const ulong net = 0x308830028UL;
        Assert.True(VirtioFeatures.Has(net, VirtioFeatures.Version1));
        Assert.True(VirtioFeatures.Has(net, VirtioFeatures.AccessPlatform));
        Assert.True(VirtioFeatures.Has(net, NetFeatures.CtrlVq));
        Assert.False(VirtioFeatures.Has(net, VirtioFeatures.RingPacked));
        Assert.False(VirtioFeatures.Has(net, NetFeatures.Mq));
        Assert.False(VirtioFeatures.Has(net, VirtioFeatures.RingEventIdx));
    }

    private static ulong Mask(params int[] bits)
    {
        ulong m = 0;
        foreach (int b in bits) m |= VirtioFeatures.Bit(b);
        return m;
    }
}
