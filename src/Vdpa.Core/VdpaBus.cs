namespace Uvdpa.Vdpa.Core;

/// <summary>
/// The vdpa bus (drivers/vdpa/vdpa.c): management devices, devices and bus drivers, with the kernel's binding rules:
/// a new device goes to the first registered driver that matches and probes successfully (the order drivers were
/// registered in, i.e. module load order); driver_override restricts matching to one driver; unbind, bind and
/// drivers_probe work at run time; deleting a device unbinds it first. Thread-safe (one bus lock, vdpa_dev_lock).
/// </summary>
public sealed class VdpaBus
{
    private readonly object _lock = new();
    private readonly List<VdpaManagementDevice> _managementDevices = [];
    private readonly List<IVdpaBusDriver> _drivers = [];
    private readonly List<VdpaDevice> _devices = [];
    private readonly SortedSet<int> _freeIndices = [];
    private int _nextIndex;
    private string? _pendingName;           // AddDevice in progress: binding choices for RegisterDevice
    private string? _pendingOverride;
    private BindOptions? _pendingOptions;

    /// <summary>Raised after a device was bound (argument: device).</summary>
    public event Action<VdpaDevice>? DeviceBound;

    /// <summary>Raised after a device was unbound.</summary>
    public event Action<VdpaDevice>? DeviceUnbound;

    /// <summary>Management devices in registration order.</summary>
    public IReadOnlyList<VdpaManagementDevice> ManagementDevices { get { lock (_lock) return [.. _managementDevices]; } }

    /// <summary>Devices in the order they were added (the order dumps walk).</summary>
    public IReadOnlyList<VdpaDevice> Devices { get { lock (_lock) return [.. _devices]; } }

    /// <summary>Drivers in registration order.</summary>
    public IReadOnlyList<IVdpaBusDriver> Drivers { get { lock (_lock) return [.. _drivers]; } }

    /// <summary>Runs <paramref name="action"/> with the bus lock held, so no device is added, removed or rebound meanwhile (vdpa_dev_lock).</summary>
    public T WithLock<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (_lock) return action();
    }

    // ---- management devices ----

    /// <summary>vdpa_mgmtdev_register. EEXIST when the handle is taken.</summary>
    public void RegisterManagementDevice(VdpaManagementDevice managementDevice)
    {
        ArgumentNullException.ThrowIfNull(managementDevice);
        lock (_lock)
        {
            if (_managementDevices.Any(m => m.Handle == managementDevice.Handle))
                throw new VdpaException(Errno.EEXIST, detail: $"management device {managementDevice.Handle} exists");
            _managementDevices.Add(managementDevice);
        }
    }

    /// <summary>vdpa_mgmtdev_unregister: deletes every device it created, then removes it.</summary>
    public void UnregisterManagementDevice(VdpaManagementDevice managementDevice)
    {
        ArgumentNullException.ThrowIfNull(managementDevice);
        lock (_lock)
        {
            foreach (var d in _devices.Where(d => d.ManagementDevice == managementDevice).ToArray())
                managementDevice.DeleteDevice(this, d);
            _managementDevices.Remove(managementDevice);
        }
    }

    /// <summary>
    /// The kernel's mgmtdev lookup: a parent with a bus matches only when <paramref name="busName"/> equals it; a
    /// bus-less parent only when no bus is given.
    /// </summary>
    public bool TryFindManagementDevice(string? busName, string name, out VdpaManagementDevice managementDevice)
    {
        lock (_lock)
        {
            foreach (var m in _managementDevices)
            {
                if (m.Name == name && m.BusName == busName)
                {
                    managementDevice = m;
                    return true;
                }
            }
        }
        managementDevice = null!;
        return false;
    }

    // ---- drivers ----

    /// <summary>Registers a bus driver; unbound devices that match are probed with it (driver_register → attach).</summary>
    public void RegisterDriver(IVdpaBusDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        lock (_lock)
        {
            if (_drivers.Any(d => d.Name == driver.Name)) throw new VdpaException(Errno.EEXIST, detail: $"driver {driver.Name} is registered");
            _drivers.Add(driver);
            foreach (var dev in _devices.Where(d => d.Driver is null).ToArray())
            {
                if (Matches(driver, dev)) TryProbeUnsynchronized(driver, dev);
            }
        }
    }

    /// <summary>Unregisters a driver, unbinding its devices (they stay unbound).</summary>
    public void UnregisterDriver(IVdpaBusDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        lock (_lock)
        {
            foreach (var dev in _devices.Where(d => d.Driver == driver).ToArray()) UnbindUnsynchronized(dev);
            _drivers.Remove(driver);
        }
    }

    // ---- devices ----

    /// <summary>_vdpa_register_device: adds the device (EEXIST if the name is taken) and probes drivers in order.</summary>
    public void RegisterDevice(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            if (_devices.Any(d => d.Name == device.Name)) throw new VdpaException(Errno.EEXIST);
            if (device.IsRegistered) throw new VdpaException(Errno.EINVAL, detail: "device is already registered");
            if (device.Name == _pendingName)
            {
                device.DriverOverride = _pendingOverride;
                if (_pendingOptions is not null) device.BindOptions = _pendingOptions;
            }
            device.Index = AllocateIndex();
            device.IsRegistered = true;
            _devices.Add(device);
            ProbeUnsynchronized(device);
        }
    }

    /// <summary>_vdpa_unregister_device: unbinds, removes, then frees the ops.</summary>
    public void UnregisterDevice(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            if (!_devices.Remove(device)) return;
            UnbindUnsynchronized(device);
            device.IsRegistered = false;
            _freeIndices.Add(device.Index);
        }
        device.Ops.Free();
    }

    /// <summary>Finds a device by name.</summary>
    public bool TryFindDevice(string name, out VdpaDevice device)
    {
        lock (_lock)
        {
            foreach (var d in _devices)
            {
                if (d.Name == name) { device = d; return true; }
            }
        }
        device = null!;
        return false;
    }

    /// <summary>
    /// vdpa_nl_cmd_dev_add's last step: asks the management device to create and register the device. A
    /// <paramref name="driverOverride"/> and <paramref name="bindOptions"/> given here apply before the first probe
    /// (uvdpa: choose the bus driver at creation), so the device never passes through the default driver.
    /// </summary>
    public VdpaDevice AddDevice(VdpaManagementDevice managementDevice, string name, DeviceConfigRequest config,
        string? driverOverride = null, BindOptions? bindOptions = null)
    {
        ArgumentNullException.ThrowIfNull(managementDevice);
        ArgumentNullException.ThrowIfNull(config);
        lock (_lock)
        {
            _pendingName = name;
            _pendingOverride = string.IsNullOrEmpty(driverOverride) ? null : driverOverride;
            _pendingOptions = bindOptions;
            try
            {
                return managementDevice.AddDevice(this, name, config);
            }
            finally
            {
                _pendingName = null;
                _pendingOverride = null;
                _pendingOptions = null;
            }
        }
    }

    /// <summary>Deletes a user-created device: ENODEV "vdpa: device not found"; EINVAL for unmanaged devices.</summary>
    public void DeleteDevice(string name)
    {
        lock (_lock)
        {
            if (!TryFindDevice(name, out var dev)) throw new VdpaException(Errno.ENODEV, "vdpa: device not found");
            if (dev.ManagementDevice is null) throw new VdpaException(Errno.EINVAL, "vdpa: Only user created device can be deleted by user");
            dev.ManagementDevice.DeleteDevice(this, dev);
        }
    }

    // ---- binding (sysfs driver_override, bind, unbind, drivers_probe) ----

    /// <summary>Writes driver_override (null or empty clears). Does not rebind, as in the kernel.</summary>
    public void SetDriverOverride(string deviceName, string? driverName)
    {
        lock (_lock) Find(deviceName).DriverOverride = string.IsNullOrEmpty(driverName) ? null : driverName;
    }

    /// <summary>Sets the options the next probe of the device passes to its driver.</summary>
    public void SetBindOptions(string deviceName, BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_lock) Find(deviceName).BindOptions = options;
    }

    /// <summary>drivers/*/unbind. Returns false when the device was not bound.</summary>
    public bool Unbind(string deviceName)
    {
        lock (_lock)
        {
            var dev = Find(deviceName);
            if (dev.Driver is null) return false;
            UnbindUnsynchronized(dev);
            return true;
        }
    }

    /// <summary>drivers/NAME/bind: binds an unbound device to a specific driver (EBUSY if bound, ENODEV if no match, the probe's error otherwise).</summary>
    public void Bind(string deviceName, string driverName)
    {
        lock (_lock)
        {
            var dev = Find(deviceName);
            var drv = _drivers.FirstOrDefault(d => d.Name == driverName) ?? throw new VdpaException(Errno.ENODEV, detail: $"no driver {driverName}");
            if (dev.Driver is not null) throw new VdpaException(Errno.EBUSY, detail: $"{dev.Name} is bound to {dev.Driver.Name}");
            if (!Matches(drv, dev)) throw new VdpaException(Errno.ENODEV, detail: $"driver_override of {dev.Name} is {dev.DriverOverride}");
            var error = TryProbeUnsynchronized(drv, dev);
            dev.LastProbeError = error;
            if (error is not null) throw error;
        }
    }

    /// <summary>drivers_probe: probes an unbound device with the registered drivers in order. Returns true if bound.</summary>
    public bool Probe(string deviceName)
    {
        lock (_lock)
        {
            var dev = Find(deviceName);
            if (dev.Driver is not null) return true;
            ProbeUnsynchronized(dev);
            return dev.Driver is not null;
        }
    }

    /// <summary>uvdpa convenience: driver_override + unbind + probe in one step (what the kernel does through sysfs).</summary>
    public void Rebind(string deviceName, string? driverName, BindOptions? options = null)
    {
        lock (_lock)
        {
            var dev = Find(deviceName);
            if (driverName is not null && _drivers.All(d => d.Name != driverName))
                throw new VdpaException(Errno.ENODEV, detail: $"no driver {driverName}");
            dev.DriverOverride = driverName;
            if (options is not null) dev.BindOptions = options;
            if (dev.Driver is not null) UnbindUnsynchronized(dev);
            if (driverName is null) { ProbeUnsynchronized(dev); return; }
            var error = TryProbeUnsynchronized(_drivers.First(d => d.Name == driverName), dev);
            dev.LastProbeError = error;
            if (error is not null) throw error;
        }
    }

    private VdpaDevice Find(string name)
        => TryFindDevice(name, out var d) ? d : throw new VdpaException(Errno.ENODEV, "vdpa: device not found");

    private static bool Matches(IVdpaBusDriver driver, VdpaDevice device)
        => device.DriverOverride is null || device.DriverOverride == driver.Name;

    private void ProbeUnsynchronized(VdpaDevice device)
    {
        foreach (var drv in _drivers)
        {
            if (!Matches(drv, device)) continue;
            var error = TryProbeUnsynchronized(drv, device);
            device.LastProbeError = error;
            if (error is null) return;
        }
    }

    private VdpaException? TryProbeUnsynchronized(IVdpaBusDriver driver, VdpaDevice device)
    {
        // vdpa_dev_probe: max >= min, then the driver's probe.
        if (device.Ops.GetVqNumMax() < device.Ops.GetVqNumMin())
            return new VdpaException(Errno.EINVAL, detail: "vq num max below vq num min");
        try
        {
            driver.Probe(device, device.BindOptions);
        }
        catch (VdpaException e)
        {
            device.ClearExposures();
            return e;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException)
        {
            device.ClearExposures();
            return new VdpaException(Errno.EIO, detail: $"{driver.Name} probe of {device.Name} failed: {e.Message}");
        }
        device.Driver = driver;
        DeviceBound?.Invoke(device);
        return null;
    }

    private void UnbindUnsynchronized(VdpaDevice device)
    {
        var drv = device.Driver;
        if (drv is null) return;
        drv.Remove(device);
        device.ClearExposures();
        device.Driver = null;
        DeviceUnbound?.Invoke(device);
    }

    private int AllocateIndex()
    {
        if (_freeIndices.Count > 0)
        {
            int i = _freeIndices.Min;
            _freeIndices.Remove(i);
            return i;
        }
        return _nextIndex++;
    }
}
