using Uvdpa.Vdpa.Core;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>The last step of vdpasim_net/blk_dev_add: _vdpa_register_device, releasing the simulator if the bus refuses it.</summary>
internal static class SimDeviceRegistration
{
    public static VdpaDevice Register(VdpaBus bus, VdpaManagementDevice managementDevice, string name, VdpaSimDevice ops, int numVqs)
    {
        var device = new VdpaDevice(name, ops, numVqs, managementDevice);
        try
        {
            bus.RegisterDevice(device);
        }
        catch
        {
            ops.Free();
            throw;
        }
        return device;
    }
}
