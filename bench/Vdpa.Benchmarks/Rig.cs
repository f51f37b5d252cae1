using System.Net.NetworkInformation;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Benchmarks;

/// <summary>A bus with both simulators and the virtio driver; one net and one blk device.</summary>
internal sealed class Rig : IDisposable
{
    public static readonly PhysicalAddress Mac = PhysicalAddress.Parse("02:00:00:00:00:01");

    public Rig(int queueDepth = 32)
    {
        Bus = new VdpaBus();
        Net = new VdpaSimNetManagementDevice();
        Blk = new VdpaSimBlkManagementDevice();
        Bus.RegisterManagementDevice(Net);
        Bus.RegisterManagementDevice(Blk);
        Bus.RegisterDriver(new VirtioVdpaDriver(new VirtioDriverOptions { QueueDepth = queueDepth }));
    }

    public VdpaBus Bus { get; }
    public VdpaSimNetManagementDevice Net { get; }
    public VdpaSimBlkManagementDevice Blk { get; }

    public VirtioNetDevice AddNet(string name = "net0")
    {
        var dev = Bus.AddDevice(Net, name, new DeviceConfigRequest { Mac = Mac.GetAddressBytes(), Mask = VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr) });
        return VirtioVdpaDriver.GetNetDevice(dev) ?? throw new InvalidOperationException("no net device");
    }

    public VirtioBlkDevice AddBlk(string name = "blk0")
    {
        var dev = Bus.AddDevice(Blk, name, new DeviceConfigRequest());
        return VirtioVdpaDriver.GetBlkDevice(dev) ?? throw new InvalidOperationException("no blk device");
    }

    public static byte[] Frame(int size)
    {
        var f = new byte[size];
        Mac.GetAddressBytes().CopyTo(f, 0);
        f[6] = 0x02; f[11] = 0xfe; f[12] = 0x88; f[13] = 0xb5;
        for (int i = 14; i < size; i++) f[i] = (byte)i;
        return f;
    }

    public void Dispose()
    {
        foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
    }
}
