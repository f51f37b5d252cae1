using Uvdpa.Virtio.Platform.Linux;

namespace Uvdpa.Vdpa.Tap.Tests;

/// <summary>Interface names and MAC validity (no privileges needed).</summary>
public sealed class TapBridgeNameTests
{
    [Theory]
    [InlineData("vdpa0")]
    [InlineData("abcdefghijklmno")]
    public void DeriveInterfaceName_UsesTheDeviceName(string name) => Assert.Equal(name, TapBridge.DeriveInterfaceName(name));

    [Theory]
    [InlineData("abcdefghijklmnop")]
    [InlineData("a/b")]
    [InlineData("a:b")]
    [InlineData("a b")]
    [InlineData("..")]
    [InlineData("")]
    public void DeriveInterfaceName_RejectsWhatTheKernelWouldRefuse(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => TapBridge.DeriveInterfaceName(name));
        Assert.Contains($"{TapInterface.MaxNameLength} bytes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0 }, false)]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, false)]
    [InlineData(new byte[] { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, false)]
    [InlineData(new byte[] { 0x00, 0xe8, 0xca, 0x33, 0xba, 0x05 }, true)]
    public void IsValidUnicast_MatchesIsValidEtherAddr(byte[] mac, bool valid) => Assert.Equal(valid, TapBridge.IsValidUnicast(mac));

    [Fact]
    public void RandomLocalMac_IsLocallyAdministeredUnicast()
    {
        for (int i = 0; i < 100; i++)
        {
            var mac = TapBridge.RandomLocalMac();
            Assert.True(TapBridge.IsValidUnicast(mac));
            Assert.Equal(0x02, mac[0] & 0x03);
        }
    }
}
