using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;

namespace Uvdpa.Vdpa.VirtioDriver.Tests;

/// <summary>A bus with both simulator management devices and virtio_vdpa registered (as after modprobe).</summary>
internal sealed class SimulatorBus : IDisposable
{
    public SimulatorBus(VirtioDriverOptions? defaults = null, SimulatorOptions? simulator = null)
    {
        NetManagement = new VdpaSimNetManagementDevice(simulator);
        BlkManagement = new VdpaSimBlkManagementDevice(simulator);
        Bus.RegisterManagementDevice(NetManagement);
        Bus.RegisterManagementDevice(BlkManagement);
        Driver = new VirtioVdpaDriver(defaults);
        Bus.RegisterDriver(Driver);
    }

    public VdpaBus Bus { get; } = new();
    public VdpaSimNetManagementDevice NetManagement { get; }
    public VdpaSimBlkManagementDevice BlkManagement { get; }
    public VirtioVdpaDriver Driver { get; }

    public static readonly byte[] DefaultMac = [0x00, 0xe8, 0xca, 0x33, 0xba, 0x05];

    public (VdpaDevice Device, VirtioNetDevice Net) AddNet(string name = "net0", byte[]? mac = null, ushort? mtu = null)
    {
        var config = new DeviceConfigRequest
        {
            Mac = mac ?? DefaultMac,
            Mtu = mtu ?? 0,
            Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) | (mtu is null ? 0 : VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu)),
        };
        var dev = Bus.AddDevice(NetManagement, name, config);
        return (dev, VirtioVdpaDriver.GetNetDevice(dev) ?? throw new InvalidOperationException($"{name} is not bound as net"));
    }

    public (VdpaDevice Device, VirtioBlkDevice Blk) AddBlk(string name = "blk0", BindOptions? options = null)
    {
        if (options is not null)
        {
            // Create unbound (override to a driver that does not exist yet is not possible), then rebind with options.
            var dev0 = Bus.AddDevice(BlkManagement, name, new DeviceConfigRequest());
            Bus.Rebind(name, VirtioVdpaDriver.DriverName, options);
            return (dev0, VirtioVdpaDriver.GetBlkDevice(dev0) ?? throw new InvalidOperationException($"{name} is not bound as blk"));
        }
        var dev = Bus.AddDevice(BlkManagement, name, new DeviceConfigRequest());
        return (dev, VirtioVdpaDriver.GetBlkDevice(dev) ?? throw new InvalidOperationException($"{name} is not bound as blk"));
    }

    public void Dispose()
    {
        foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
    }
}
