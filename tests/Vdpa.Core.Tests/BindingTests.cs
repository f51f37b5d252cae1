using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Core.Tests;

public class BindingTests
{
    private static (VdpaBus Bus, FakeManagementDevice Mgmt) NewBus()
    {
        var bus = new VdpaBus();
        var mgmt = new FakeManagementDevice("vdpasim_net");
        bus.RegisterManagementDevice(mgmt);
        return (bus, mgmt);
    }

    [Fact]
    public void FirstRegisteredDriverTakesEveryNewDevice()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(virtio);
        bus.RegisterDriver(vhost);
        var a = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        var b = bus.AddDevice(mgmt, "b", new DeviceConfigRequest());
        Assert.Same(virtio, a.Driver);
        Assert.Same(virtio, b.Driver);
        Assert.Empty(vhost.Log);
    }

    [Fact]
    public void DeviceWithoutDriverStaysUnboundUntilADriverRegisters()
    {
        var (bus, mgmt) = NewBus();
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        Assert.Null(dev.Driver);
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(vhost);
        Assert.Same(vhost, dev.Driver);
    }

    [Fact]
    public void FailedProbeFallsThroughToTheNextDriver()
    {
        var (bus, mgmt) = NewBus();
        bus.RegisterDriver(new FakeDriver("picky", _ => false));
        var second = new FakeDriver("second");
        bus.RegisterDriver(second);
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        Assert.Same(second, dev.Driver);
        Assert.DoesNotContain(dev.Exposures, e => e.Kind == "picky");
    }

    [Fact]
    public void DriverOverrideRestrictsMatchingButDoesNotRebind()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(virtio);
        bus.RegisterDriver(vhost);
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        bus.SetDriverOverride("a", "vhost_vdpa");
        Assert.Same(virtio, dev.Driver); // writing driver_override does not rebind
        Assert.True(bus.Unbind("a"));
        Assert.Null(dev.Driver);
        Assert.Contains("remove a", virtio.Log);
        Assert.True(bus.Probe("a"));
        Assert.Same(vhost, dev.Driver);
        var e = Assert.Throws<VdpaException>(() => { bus.Unbind("a"); bus.Bind("a", "virtio_vdpa"); });
        Assert.Equal(Errno.ENODEV, e.Errno);
    }

    [Fact]
    public void BindRefusesABoundDevice()
    {
        var (bus, mgmt) = NewBus();
        bus.RegisterDriver(new FakeDriver("virtio_vdpa"));
        bus.RegisterDriver(new FakeDriver("vhost_vdpa"));
        bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        Assert.Equal(Errno.EBUSY, Assert.Throws<VdpaException>(() => bus.Bind("a", "vhost_vdpa")).Errno);
    }

    [Fact]
    public void BothDriversServeDifferentDevicesAtOnceAndRebindSwitches()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(virtio);
        bus.RegisterDriver(vhost);
        var a = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        var b = bus.AddDevice(mgmt, "b", new DeviceConfigRequest());
        bus.Rebind("b", "vhost_vdpa", new BindOptions([new("dir", "/run/x")]));
        Assert.Same(virtio, a.Driver);
        Assert.Same(vhost, b.Driver);
        Assert.Contains("probe b dir=/run/x", vhost.Log);
        Assert.Equal("vhost_vdpa", Assert.Single(b.Exposures).Kind);
        bus.Rebind("b", "virtio_vdpa");
        Assert.Same(virtio, b.Driver);
        Assert.Equal("virtio_vdpa", Assert.Single(b.Exposures).Kind);
        Assert.Equal(Errno.ENODEV, Assert.Throws<VdpaException>(() => bus.Rebind("b", "nosuch")).Errno);
    }

    [Fact]
    public void DeletingADeviceUnbindsItFirstAndFreesTheOps()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        bus.RegisterDriver(virtio);
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        bus.DeleteDevice("a");
        Assert.Equal(["probe a ", "remove a"], virtio.Log);
        Assert.False(bus.TryFindDevice("a", out _));
        Assert.True(((FakeOps)dev.Ops).Freed);
        Assert.False(dev.IsRegistered);
    }

    [Fact]
    public void DeleteErrorsMatchTheKernel()
    {
        var (bus, _) = NewBus();
        var e = Assert.Throws<VdpaException>(() => bus.DeleteDevice("nosuch"));
        Assert.Equal(Errno.ENODEV, e.Errno);
        Assert.Equal("vdpa: device not found", e.Extack);
        bus.RegisterDevice(new VdpaDevice("unmanaged", new FakeOps(), 1, null));
        e = Assert.Throws<VdpaException>(() => bus.DeleteDevice("unmanaged"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("vdpa: Only user created device can be deleted by user", e.Extack);
    }

    [Fact]
    public void NamesAreUniqueOnTheBus()
    {
        var (bus, mgmt) = NewBus();
        bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        Assert.Equal(Errno.EEXIST, Assert.Throws<VdpaException>(() => bus.AddDevice(mgmt, "a", new DeviceConfigRequest())).Errno);
        Assert.Single(bus.Devices);
    }

    [Fact]
    public void IndicesAreReusedLikeAnIda()
    {
        var (bus, mgmt) = NewBus();
        var a = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        var b = bus.AddDevice(mgmt, "b", new DeviceConfigRequest());
        Assert.Equal((0, 1), (a.Index, b.Index));
        bus.DeleteDevice("a");
        Assert.Equal(0, bus.AddDevice(mgmt, "c", new DeviceConfigRequest()).Index);
    }

    [Fact]
    public void ProbeRejectsVqNumMaxBelowMin()
    {
        var bus = new VdpaBus();
        var drv = new FakeDriver("virtio_vdpa");
        bus.RegisterDriver(drv);
        var dev = new VdpaDevice("odd", new FakeOps(numMax: 4, numMin: 8), 1, null);
        bus.RegisterDevice(dev);
        Assert.Null(dev.Driver);
        Assert.Empty(drv.Log);
    }

    [Fact]
    public void UnregisteringADriverLeavesItsDevicesUnbound()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(virtio);
        bus.RegisterDriver(vhost);
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        bus.UnregisterDriver(virtio);
        Assert.Null(dev.Driver);
        Assert.Empty(vhost.Log);
    }

    [Fact]
    public void UnregisteringAManagementDeviceDeletesItsDevices()
    {
        var (bus, mgmt) = NewBus();
        bus.AddDevice(mgmt, "a", new DeviceConfigRequest());
        bus.UnregisterManagementDevice(mgmt);
        Assert.Empty(bus.Devices);
        Assert.Equal(["a"], mgmt.Deleted);
        Assert.Empty(bus.ManagementDevices);
    }

    [Theory]
    [InlineData(null, "vdpasim_net", true)]
    [InlineData("pci", "vdpasim_net", false)]
    [InlineData("pci", "0000:00:09.0", true)]
    [InlineData(null, "0000:00:09.0", false)]
    [InlineData(null, "nosuch", false)]
    public void ManagementDeviceLookupRequiresTheBusToMatch(string? busName, string name, bool found)
    {
        var (bus, _) = NewBus();
        bus.RegisterManagementDevice(new FakeManagementDevice("0000:00:09.0", "pci"));
        Assert.Equal(found, bus.TryFindManagementDevice(busName, name, out _));
    }

    [Fact]
    public void SupportedClassesIsABitPerDeviceId()
    {
        var m = new FakeManagementDevice("vduse", null, VirtioDeviceId.Net, VirtioDeviceId.Block);
        Assert.Equal(0b110UL, m.SupportedClasses);
        Assert.Equal("pci/x", new FakeManagementDevice("x", "pci").Handle);
    }

    [Fact]
    public void ADriverChosenAtCreationBindsFirstWithItsOptions()
    {
        var (bus, mgmt) = NewBus();
        var virtio = new FakeDriver("virtio_vdpa");
        var vhost = new FakeDriver("vhost_vdpa");
        bus.RegisterDriver(virtio);
        bus.RegisterDriver(vhost);
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest(), "vhost_vdpa", new BindOptions([new("dir", "/x")]));
        Assert.Same(vhost, dev.Driver);
        Assert.Empty(virtio.Log); // never passed through the default driver
        Assert.Equal(["probe a dir=/x"], vhost.Log);
        Assert.Equal("vhost_vdpa", dev.DriverOverride);
        var plain = bus.AddDevice(mgmt, "b", new DeviceConfigRequest());
        Assert.Same(virtio, plain.Driver);
        Assert.Null(plain.DriverOverride);
    }

    [Fact]
    public void AFailedProbeIsRecordedOnTheDevice()
    {
        var (bus, mgmt) = NewBus();
        bus.RegisterDriver(new FakeDriver("picky", _ => false));
        var dev = bus.AddDevice(mgmt, "a", new DeviceConfigRequest(), "picky");
        Assert.Null(dev.Driver);
        Assert.Equal(Errno.ENODEV, dev.LastProbeError?.Errno);
    }
}
