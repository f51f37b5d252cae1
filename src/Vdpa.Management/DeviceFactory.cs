using System.Runtime.CompilerServices;
using Uvdpa.Vdpa.Core;
using Errno = Uvdpa.Vdpa.Netlink.Errno;

namespace Uvdpa.Vdpa.Management;

/// <summary>Re-creates devices from <see cref="DeviceDefinition"/>s (the daemon's state file at start-up).</summary>
public static class DeviceFactory
{
    // The definition each device was created from (or last changed to), so later changes can be stored in full.
    private static readonly ConditionalWeakTable<VdpaDevice, DeviceDefinition> Definitions = [];

    /// <summary>
    /// Applies <paramref name="definition"/>: management device lookup, the provisioning request, then (when the
    /// definition names a driver or driver options) driver_override + bind options + rebind. Throws
    /// <see cref="VdpaException"/> with the kernel's errno and extack (ENODEV "vdpa: Fail to find the specified
    /// management device", EEXIST, EINVAL ...). Runs under the bus lock.
    /// </summary>
    public static VdpaDevice Create(VdpaBus bus, DeviceDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(definition);
        return bus.WithLock(() =>
        {
            if (!bus.TryFindManagementDevice(definition.ManagementBusName, definition.ManagementDeviceName, out var mgmt))
                throw new VdpaException(Errno.ENODEV, "vdpa: Fail to find the specified management device");
            if (string.IsNullOrEmpty(definition.Name)) throw new VdpaException(Errno.EINVAL, detail: "empty device name");
            var device = Add(bus, mgmt, definition, ToRequest(definition));
            Remember(device, definition);
            return device;
        });
    }

    internal static DeviceConfigRequest ToRequest(DeviceDefinition d)
    {
        ulong mask = 0;
        if (d.Mac is not null) mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMacAddr);
        if (d.Mtu is not null) mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMtu);
        if (d.MaxVqPairs is not null) mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.NetMaxVqp);
        if (d.DeviceFeatures is not null) mask |= VdpaConfigAttr.Bit(VdpaConfigAttr.DevFeatures);
        return new DeviceConfigRequest
        {
            Mac = d.Mac ?? default(ReadOnlyMemory<byte>),
            Mtu = d.Mtu ?? 0,
            MaxVqPairs = d.MaxVqPairs ?? 0,
            DeviceFeatures = d.DeviceFeatures ?? 0,
            Mask = mask,
            Options = d.Options,
        };
    }

    /// <summary>
    /// Adds the device with the definition's driver choice and bind options applied before the first probe. When a
    /// driver was chosen and did not take the device, the device is deleted again and the probe's error thrown.
    /// </summary>
    internal static VdpaDevice Add(VdpaBus bus, VdpaManagementDevice mgmt, DeviceDefinition definition, DeviceConfigRequest config)
    {
        var options = definition.DriverOptions.Count > 0 ? new BindOptions(definition.DriverOptions) : null;
        var device = bus.AddDevice(mgmt, definition.Name, config, definition.Driver, options);
        if (definition.Driver is not null && device.Driver?.Name != definition.Driver)
        {
            var error = device.LastProbeError ?? new VdpaException(Errno.ENODEV, detail: $"driver {definition.Driver} did not take {definition.Name}");
            bus.DeleteDevice(definition.Name);
            throw error;
        }
        return device;
    }

    internal static void Remember(VdpaDevice device, DeviceDefinition definition) => Definitions.AddOrUpdate(device, definition);

    /// <summary>The definition a device was created from, or one synthesised from its current state.</summary>
    internal static DeviceDefinition DefinitionOf(VdpaDevice device)
    {
        if (Definitions.TryGetValue(device, out var d)) return d;
        return new DeviceDefinition
        {
            Name = device.Name,
            ManagementBusName = device.ManagementDevice?.BusName,
            ManagementDeviceName = device.ManagementDevice?.Name ?? "",
            Driver = device.DriverOverride,
            DriverOptions = new Dictionary<string, string>(device.BindOptions.Values),
        };
    }
}
