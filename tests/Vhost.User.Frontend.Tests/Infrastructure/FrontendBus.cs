using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver;

namespace Uvdpa.Vhost.User.Frontend.Tests.Infrastructure;

/// <summary>
/// The front-end side as a user would set it up: a bus with the vhost_user_fe parent and virtio_vdpa, so adding a
/// device connects to a back-end socket and binds our virtio_blk driver to it.
/// </summary>
internal sealed class FrontendBus : IDisposable
{
    public FrontendBus(VirtioDriverOptions? driverOptions = null)
    {
        Management = new VhostUserFrontendManagementDevice();
        Bus.RegisterManagementDevice(Management);
        Bus.RegisterDriver(new VirtioVdpaDriver(driverOptions));
    }

    public VdpaBus Bus { get; } = new();
    public VhostUserFrontendManagementDevice Management { get; }

    public VdpaDevice Add(string name, string socket, params (string Key, string Value)[] extra)
    {
        var options = new Dictionary<string, string> { [VhostUserFrontendOptions.SocketKey] = socket };
        foreach (var (k, v) in extra) options[k] = v;
        return Bus.AddDevice(Management, name, new DeviceConfigRequest { Options = options });
    }

    public static VirtioBlkDevice Blk(VdpaDevice device)
        => VirtioVdpaDriver.GetBlkDevice(device)
           ?? throw new InvalidOperationException($"{device.Name} is not bound as blk: {device.LastProbeError?.Message ?? "no probe error"}; front-end: {(device.Ops as VhostUserFrontendDevice)?.LastError}");

    public void Delete(string name) => Bus.DeleteDevice(name);

    public void Dispose()
    {
        foreach (var d in Bus.Devices) Bus.DeleteDevice(d.Name);
    }
}
