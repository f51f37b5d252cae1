using System.Globalization;
using System.Text.RegularExpressions;
using Uvdpa.Conformance.Tests.Golden;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Conformance.Tests;

/// <summary>
/// Our side of the comparison, set up like the capture VM after <c>modprobe vdpa_sim_net vdpa_sim_blk virtio_vdpa</c>:
/// a bus with both simulator management devices and the virtio_vdpa driver. Devices are provisioned from the golden's
/// own <c>vdpa dev add</c> command lines.
/// </summary>
internal sealed partial class UvdpaStack : IDisposable
{
    public UvdpaStack()
    {
        Bus.RegisterManagementDevice(Net);
        Bus.RegisterManagementDevice(Blk);
        Bus.RegisterDriver(new VirtioVdpaDriver());
    }

    public VdpaBus Bus { get; } = new();

    public VdpaSimNetManagementDevice Net { get; } = new();

    public VdpaSimBlkManagementDevice Blk { get; } = new();

    /// <summary>Runs a <c>vdpa dev add name N mgmtdev M [mac X] [mtu Y]</c> command line on our bus.</summary>
    public VdpaDevice Add(string devAddCommand)
    {
        var m = DevAdd().Match(devAddCommand);
        if (!m.Success) throw new InvalidDataException($"not a 'vdpa dev add' line: {devAddCommand}");
        string name = m.Groups["name"].Value;
        string mgmt = m.Groups["mgmt"].Value;
        var args = m.Groups["rest"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ReadOnlyMemory<byte> mac = default;
        ushort mtu = 0;
        ulong mask = 0;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "mac":
                    mac = Iproute2.Mac(args[i + 1]);
                    mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr);
                    break;
                case "mtu":
                    mtu = ushort.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu);
                    break;
                default:
                    throw new InvalidDataException($"unhandled dev add attribute '{args[i]}' in: {devAddCommand}");
            }
        }
        VdpaManagementDevice parent = mgmt switch
        {
            VdpaSimNetManagementDevice.DeviceName => Net,
            VdpaSimBlkManagementDevice.DeviceName => Blk,
            _ => throw new InvalidDataException($"no management device '{mgmt}' in our stack"),
        };
        return Bus.AddDevice(parent, name, new DeviceConfigRequest { Mac = mac, Mtu = mtu, Mask = mask });
    }

    /// <summary>Provisions the device that <paramref name="golden"/> created with <c>vdpa dev add name <paramref name="name"/> …</c>.</summary>
    public VdpaDevice Add(GoldenTranscript golden, string name)
    {
        var add = golden.Commands.Single(c => c.Text.StartsWith($"vdpa dev add name {name} ", StringComparison.Ordinal));
        return Add(add.Text);
    }

    public void Dispose()
    {
        foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
    }

    [GeneratedRegex(@"^vdpa dev add name (?<name>\S+) mgmtdev (?<mgmt>\S+)(?<rest>.*)$")]
    internal static partial Regex DevAdd();
}
