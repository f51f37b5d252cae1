namespace Uvdpa.Vdpa.Core.Tests;

public class DeviceSideEffectTests
{
    [Fact]
    public void ReadingConfigBeforeFeaturesNegotiatesZeroOnce()
    {
        var ops = new FakeOps();
        var dev = new VdpaDevice("a", ops, 3, null);
        Span<byte> buf = stackalloc byte[4];
        dev.GetConfig(0, buf);
        dev.GetConfig(0, buf);
        Assert.Equal(["set_driver_features 0", "get_config", "get_config"], ops.Calls);
        Assert.True(dev.FeaturesValid);
    }

    [Fact]
    public void ConfigAfterSetFeaturesDoesNotRenegotiate()
    {
        var ops = new FakeOps();
        var dev = new VdpaDevice("a", ops, 3, null);
        Assert.Equal(0, dev.SetFeatures(0x300000000));
        dev.GetConfig(0, new byte[2]);
        Assert.Equal(["set_driver_features 300000000", "get_config"], ops.Calls);
    }

    [Fact]
    public void ResetClearsFeaturesValid()
    {
        var ops = new FakeOps();
        var dev = new VdpaDevice("a", ops, 3, null);
        dev.SetFeatures(0x300000000);
        dev.Reset();
        Assert.False(dev.FeaturesValid);
        dev.GetConfig(0, new byte[2]);
        Assert.Equal("set_driver_features 0", ops.Calls[^2]);
    }

    [Fact]
    public void ResetWithFlagsUsesCompatReset()
    {
        var ops = new FakeOps();
        var dev = new VdpaDevice("a", ops, 3, null);
        dev.Reset(VdpaDevice.ResetCleanMap);
        Assert.Equal(["compat_reset 1", "reset"], ops.Calls);
    }
}
