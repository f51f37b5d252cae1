namespace Uvdpa.Vdpa.Netlink;

/// <summary>A management device handle, <c>[bus/]name</c> (e.g. <c>vdpasim_net</c>, <c>pci/0000:65:00.2</c>).</summary>
/// <param name="BusName">MGMTDEV_BUS_NAME, null for bus-less parents such as the simulators.</param>
/// <param name="DeviceName">MGMTDEV_DEV_NAME.</param>
public readonly record struct VdpaManagementDeviceHandle(string? BusName, string DeviceName)
{
    /// <summary>
    /// Parses <c>name</c> or <c>bus/name</c> as iproute2's vdpa_argv_handle does: no slash → no bus; one slash →
    /// split there; more than one → <see cref="FormatException"/>.
    /// </summary>
    public static VdpaManagementDeviceHandle Parse(string handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        int slash = handle.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return new VdpaManagementDeviceHandle(null, handle);
        if (handle.IndexOf('/', slash + 1) >= 0)
            throw new FormatException("Wrong vdpa mgmtdev identification string format");
        return new VdpaManagementDeviceHandle(handle[..slash], handle[(slash + 1)..]);
    }

    /// <summary><c>bus/name</c> or <c>name</c>.</summary>
    public override string ToString() => BusName is null ? DeviceName : $"{BusName}/{DeviceName}";
}
