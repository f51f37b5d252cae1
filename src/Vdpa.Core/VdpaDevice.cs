namespace Uvdpa.Vdpa.Core;

/// <summary>
/// struct vdpa_device: a device on the vDPA bus. Wraps the parent's <see cref="VdpaConfigOps"/> with the core's
/// side effects (vdpa_get_config negotiates 0 when features were never set; vdpa_reset clears features_valid) and
/// its per-device config lock (cf_lock).
/// </summary>
public sealed class VdpaDevice
{
    /// <summary>VDPA_RESET_F_CLEAN_MAP: compat_reset also restores pass-through mappings.</summary>
    public const uint ResetCleanMap = 1;

    private readonly object _configLock = new();
    private readonly List<DeviceExposure> _exposures = [];

    /// <summary>Creates a device (vdpa_alloc_device). Register it with <see cref="VdpaBus.RegisterDevice"/>.</summary>
    public VdpaDevice(string name, VdpaConfigOps ops, int numVqs, VdpaManagementDevice? managementDevice)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(ops);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numVqs);
        // __vdpa_alloc_device: dma_map and dma_unmap come together (one flag here), use_va needs a map op.
        Name = name;
        Ops = ops;
        NumVqs = numVqs;
        ManagementDevice = managementDevice;
    }

    /// <summary>Unique name on the bus.</summary>
    public string Name { get; }

    /// <summary>The parent's op table.</summary>
    public VdpaConfigOps Ops { get; }

    /// <summary>Number of virtqueues (nvqs; VDPA_ATTR_DEV_MAX_VQS).</summary>
    public int NumVqs { get; }

    /// <summary>The management device that created it, or null for an unmanaged device.</summary>
    public VdpaManagementDevice? ManagementDevice { get; }

    /// <summary>Virtio device id.</summary>
    public uint DeviceId => Ops.GetDeviceId();

    /// <summary>Vendor id.</summary>
    public uint VendorId => Ops.GetVendorId();

    /// <summary>Bus index assigned at registration (the kernel's IDA).</summary>
    public int Index { get; internal set; } = -1;

    /// <summary>driver_override: when set, only the named driver may bind.</summary>
    public string? DriverOverride { get; internal set; }

    /// <summary>The bound driver, or null.</summary>
    public IVdpaBusDriver? Driver { get; internal set; }

    /// <summary>Options the driver was (or will be) bound with.</summary>
    public BindOptions BindOptions { get; internal set; } = BindOptions.Empty;

    /// <summary>Why the last probe by a matching driver failed (null after a successful bind or when none was tried).</summary>
    public VdpaException? LastProbeError { get; internal set; }

    /// <summary>True between set_features and the next reset (vdpa_device.features_valid).</summary>
    public bool FeaturesValid { get; private set; }

    /// <summary>Whether the device is still on the bus.</summary>
    public bool IsRegistered { get; internal set; }

    /// <summary>What the bound driver made of the device (a socket, a netdev, a block device, an in-process API).</summary>
    public IReadOnlyList<DeviceExposure> Exposures { get { lock (_exposures) return [.. _exposures]; } }

    /// <summary>Called by drivers on probe/remove to describe what the device is exposed as.</summary>
    public void AddExposure(DeviceExposure exposure) { lock (_exposures) _exposures.Add(exposure); }

    /// <summary>Removes every exposure (driver remove).</summary>
    public void ClearExposures() { lock (_exposures) _exposures.Clear(); }

    /// <summary>vdpa_get_config: reading config before features are set negotiates 0 first (assume a legacy guest).</summary>
    public void GetConfig(int offset, Span<byte> buffer)
    {
        lock (_configLock)
        {
            if (!FeaturesValid) SetFeaturesUnsynchronized(0);
            Ops.GetConfig(offset, buffer);
        }
    }

    /// <summary>vdpa_set_config.</summary>
    public void SetConfig(int offset, ReadOnlySpan<byte> buffer)
    {
        lock (_configLock) Ops.SetConfig(offset, buffer);
    }

    /// <summary>vdpa_set_features: marks features valid, then set_driver_features. Returns 0 or -errno.</summary>
    public int SetFeatures(ulong features)
    {
        lock (_configLock) return SetFeaturesUnsynchronized(features);
    }

    private int SetFeaturesUnsynchronized(ulong features)
    {
        FeaturesValid = true;
        return Ops.SetDriverFeatures(features);
    }

    /// <summary>vdpa_reset: clears features_valid, then compat_reset(flags) when flags are set and supported, else reset.</summary>
    public int Reset(uint flags = 0)
    {
        lock (_configLock)
        {
            FeaturesValid = false;
            return flags != 0 && Ops.Supports(VdpaOptionalOps.CompatReset) ? Ops.CompatReset(flags) : Ops.Reset();
        }
    }

    /// <summary>vdpa_set_status.</summary>
    public void SetStatus(byte status)
    {
        lock (_configLock) Ops.SetStatus(status);
    }

    /// <summary>get_status under the config lock.</summary>
    public byte GetStatus()
    {
        lock (_configLock) return Ops.GetStatus();
    }

    /// <summary>Runs <paramref name="action"/> under the device's config lock (cf_lock), e.g. for dev_set_attr or config-get replies.</summary>
    public T WithConfigLock<T>(Func<VdpaDevice, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (_configLock) return action(this);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
