using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.Nbd;
using Uvdpa.Vdpa.Simulator;
using Uvdpa.Vdpa.Tap;
using Uvdpa.Vdpa.VirtioDriver;
using Uvdpa.Vhost.User.Backend;
using Uvdpa.Vhost.User.Frontend;

namespace Uvdpa.Vdpa.Daemon;

/// <summary>
/// The "modules" vdpad can load: management devices (parents) and bus drivers, by the kernel's names. Which are
/// registered, and in which order, is configuration (Kconfig and module load order in the kernel).
/// </summary>
internal static class BusModules
{
    /// <summary>Registered when nothing is configured: both simulators.</summary>
    public static readonly IReadOnlyList<string> DefaultManagementDevices = [VdpaSimNetManagementDevice.DeviceName, VdpaSimBlkManagementDevice.DeviceName];

    /// <summary>Registered when nothing is configured.</summary>
    public static readonly IReadOnlyList<string> DefaultDrivers = [VirtioVdpaDriver.DriverName];

    private static readonly Dictionary<string, Func<DaemonOptions, VdpaManagementDevice>> s_managementDevices = new(StringComparer.Ordinal)
    {
        [VdpaSimNetManagementDevice.DeviceName] = o => new VdpaSimNetManagementDevice(o.Simulator),
        [VdpaSimBlkManagementDevice.DeviceName] = o => new VdpaSimBlkManagementDevice(o.Simulator),
        // Opt-in (not in the defaults): a parent whose devices are external vhost-user blk back-ends, `opt socket=PATH`.
        // Its dev add connects under the bus lock, as the kernel's dev_add runs under vdpa_dev_lock; the connection
        // is bounded by the front-end's reply timeout.
        [VhostUserFrontendManagementDevice.DeviceName] = _ => new VhostUserFrontendManagementDevice(),
    };

    private static readonly Dictionary<string, Func<DaemonOptions, IVdpaBusDriver>> s_drivers = new(StringComparer.Ordinal)
    {
        // virtio_vdpa with the host-visible exposures chosen per device by bind options: tap=1 / tap-name=X (a net
        // device as a TAP interface) and nbd=1 / nbd-index=N (a blk device as /dev/nbdN). Without them it is the
        // plain in-process driver.
        [VirtioVdpaDriver.DriverName] = _ => new NbdVirtioDriver(new TapVirtioDriver(new VirtioVdpaDriver())),
        [VhostUserBusDriver.DriverName] = o => new VhostUserBusDriver(o.VhostUserDirectory),
    };

    /// <summary>Known management device names.</summary>
    public static IEnumerable<string> ManagementDeviceNames => s_managementDevices.Keys;

    /// <summary>Known driver names.</summary>
    public static IEnumerable<string> DriverNames => s_drivers.Keys;

    /// <summary>True when <paramref name="name"/> is a known management device.</summary>
    public static bool IsManagementDevice(string name) => s_managementDevices.ContainsKey(name);

    /// <summary>True when <paramref name="name"/> is a known bus driver.</summary>
    public static bool IsDriver(string name) => s_drivers.ContainsKey(name);

    /// <summary>Creates management device <paramref name="name"/>.</summary>
    public static VdpaManagementDevice CreateManagementDevice(string name, DaemonOptions options) => s_managementDevices[name](options);

    /// <summary>Creates bus driver <paramref name="name"/>.</summary>
    public static IVdpaBusDriver CreateDriver(string name, DaemonOptions options) => s_drivers[name](options);
}
