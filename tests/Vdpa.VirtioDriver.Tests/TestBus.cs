using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>Bus + driver + one unmanaged device around a <see cref="RecordingVdpaOps"/>.</summary>
internal sealed class TestBus
{
    public TestBus(RecordingVdpaOps ops, BindOptions? options = null, string name = "vdpa0", VirtioDriverOptions? defaults = null)
    {
        Ops = ops;
        Driver = new VirtioVdpaDriver(defaults);
        Device = new VdpaDevice(name, ops, ops.NumVqs, null);
        Bus.RegisterDevice(Device); // no driver yet: stays unbound
        if (options is not null) Bus.SetBindOptions(name, options);
        Bus.RegisterDriver(Driver); // probes the device
    }

    public VdpaBus Bus { get; } = new();
    public VirtioVdpaDriver Driver { get; }
    public RecordingVdpaOps Ops { get; }
    public VdpaDevice Device { get; }

    public VirtioNetDevice Net => VirtioVdpaDriver.GetNetDevice(Device) ?? throw new InvalidOperationException("not bound as net");
    public VirtioBlkDevice Blk => VirtioVdpaDriver.GetBlkDevice(Device) ?? throw new InvalidOperationException("not bound as blk");

    /// <summary>Binds a device whose probe is expected to fail and returns the error (the bus keeps it unbound).</summary>
    public static VdpaException ProbeError(RecordingVdpaOps ops, BindOptions? options = null)
    {
        var driver = new VirtioVdpaDriver();
        var device = new VdpaDevice("vdpa0", ops, ops.NumVqs, null);
        return Assert.Throws<VdpaException>(() => driver.Probe(device, options ?? BindOptions.Empty));
    }
}
