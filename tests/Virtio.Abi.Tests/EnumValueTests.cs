namespace Uvdpa.Virtio.Abi.Tests;

/// <summary>Pinned protocol values: status bits, descriptor flags, request types, device ids, control-queue codes.</summary>
public class EnumValueTests
{
    [Theory]
    [InlineData(DeviceStatus.None, 0x00)]
    [InlineData(DeviceStatus.Acknowledge, 0x01)]
    [InlineData(DeviceStatus.Driver, 0x02)]
    [InlineData(DeviceStatus.DriverOk, 0x04)]
    [InlineData(DeviceStatus.FeaturesOk, 0x08)]
    [InlineData(DeviceStatus.NeedsReset, 0x40)]
    [InlineData(DeviceStatus.Failed, 0x80)]
    public void DeviceStatusBits(DeviceStatus status, int expected) => Assert.Equal(expected, (int)status);

    [Fact]
    public void DeviceStatus_FullInitSequenceIs0x0F()
    {
        // What a driver writes after a successful init (Spec §3.1.1): ACK|DRIVER|FEATURES_OK|DRIVER_OK.
        var s = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk;
        Assert.Equal(0x0F, (byte)s);
        Assert.Equal(sizeof(byte), System.Runtime.InteropServices.Marshal.SizeOf(Enum.GetUnderlyingType(typeof(DeviceStatus))));
    }

    [Theory]
    [InlineData(VirtqDescFlags.None, 0)]
    [InlineData(VirtqDescFlags.Next, 1)]
    [InlineData(VirtqDescFlags.Write, 2)]
    [InlineData(VirtqDescFlags.Indirect, 4)]
    public void SplitDescFlags(VirtqDescFlags flag, int expected) => Assert.Equal(expected, (int)flag);

    [Theory]
    [InlineData(PackedDescFlags.None, 0)]
    [InlineData(PackedDescFlags.Next, 1)]
    [InlineData(PackedDescFlags.Write, 2)]
    [InlineData(PackedDescFlags.Indirect, 4)]
    [InlineData(PackedDescFlags.Avail, 0x80)]
    [InlineData(PackedDescFlags.Used, 0x8000)]
    public void PackedDescFlagValues(PackedDescFlags flag, int expected) => Assert.Equal(expected, (int)flag);

    [Theory]
    [InlineData(PackedEventFlags.Enable, 0)]
    [InlineData(PackedEventFlags.Disable, 1)]
    [InlineData(PackedEventFlags.Desc, 2)]
    public void PackedEventFlagValues(PackedEventFlags flag, int expected) => Assert.Equal(expected, (int)flag);

    [Theory]
    [InlineData(BlkRequestType.In, 0)]
    [InlineData(BlkRequestType.Out, 1)]
    [InlineData(BlkRequestType.Flush, 4)]
    [InlineData(BlkRequestType.GetId, 8)]
    [InlineData(BlkRequestType.GetLifetime, 10)]
    [InlineData(BlkRequestType.Discard, 11)]
    [InlineData(BlkRequestType.WriteZeroes, 13)]
    [InlineData(BlkRequestType.SecureErase, 14)]
    public void BlkRequestTypes(BlkRequestType type, uint expected) => Assert.Equal(expected, (uint)type);

    [Theory]
    [InlineData(BlkStatus.Ok, 0)]
    [InlineData(BlkStatus.IoErr, 1)]
    [InlineData(BlkStatus.Unsupp, 2)]
    public void BlkStatusValues(BlkStatus status, int expected) => Assert.Equal(expected, (int)status);

    [Fact]
    public void BlkWriteZeroesUnmapFlag() => Assert.Equal(1U, VirtioBlkDiscardWriteZeroes.FlagUnmap);

    [Theory]
    [InlineData(VirtioDeviceId.Reserved, 0)]
    [InlineData(VirtioDeviceId.Net, 1)]
    [InlineData(VirtioDeviceId.Block, 2)]
    [InlineData(VirtioDeviceId.Console, 3)]
    [InlineData(VirtioDeviceId.Rng, 4)]
    public void DeviceIds(VirtioDeviceId id, uint expected) => Assert.Equal(expected, (uint)id);

    [Fact]
    public void NetCtrlCodes()
    {
        Assert.Equal(0, NetCtrl.Ok);
        Assert.Equal(1, NetCtrl.Err);
        Assert.Equal(0, NetCtrl.ClassRx);
        Assert.Equal(0, NetCtrl.RxPromisc);
        Assert.Equal(1, NetCtrl.RxAllMulti);
        Assert.Equal(1, NetCtrl.ClassMac);
        Assert.Equal(0, NetCtrl.MacTableSet);
        Assert.Equal(1, NetCtrl.MacAddrSet);
        Assert.Equal(2, NetCtrl.ClassVlan);
        Assert.Equal(3, NetCtrl.ClassAnnounce);
        Assert.Equal(4, NetCtrl.ClassMq);
        Assert.Equal(0, NetCtrl.MqVqPairsSet);
        Assert.Equal(0x8000, NetCtrl.MqVqPairsMax);
        Assert.Equal(5, NetCtrl.ClassGuestOffloads);
    }

    [Fact]
    public void NetHdrFlags()
    {
        Assert.Equal(1, VirtioNetHdrV1.FlagNeedsCsum);
        Assert.Equal(2, VirtioNetHdrV1.FlagDataValid);
        Assert.Equal(0, VirtioNetHdrV1.GsoNone);
    }
}
