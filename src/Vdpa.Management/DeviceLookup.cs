using Uvdpa.Vdpa.Core;
using Errno = Uvdpa.Vdpa.Netlink.Errno;

namespace Uvdpa.Vdpa.Management;

/// <summary>The device lookup every per-device command of both families starts with (under the bus lock).</summary>
internal static class DeviceLookup
{
    /// <summary>
    /// ENODEV with "device not found" when <paramref name="name"/> is unknown; when <paramref name="unmanagedMessage"/>
    /// is given, EINVAL with that text for a device no management device created (as the kernel's per-command checks).
    /// </summary>
    public static int Find(VdpaBus bus, string name, ExtAck extack, string? unmanagedMessage, out VdpaDevice device)
    {
        if (!bus.TryFindDevice(name, out device))
        {
            extack.SetVdpa("device not found");
            return Errno.ENODEV;
        }
        if (unmanagedMessage is not null && device.ManagementDevice is null)
        {
            extack.SetVdpa(unmanagedMessage);
            return Errno.EINVAL;
        }
        return 0;
    }
}
