using Uvdpa.Virtio.Abi;

namespace Uvdpa.Vdpa.Core;

/// <summary>
/// struct vdpa_mgmt_dev + vdpa_mgmtdev_ops: a parent that creates devices on request. The handle is "bus/name" or
/// "name" (VDPA_ATTR_MGMTDEV_BUS_NAME / _DEV_NAME).
/// </summary>
public abstract class VdpaManagementDevice
{
    /// <summary>Creates a management device.</summary>
    protected VdpaManagementDevice(string name, string? busName, IReadOnlyList<VirtioDeviceId> idTable)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(idTable);
        Name = name;
        BusName = busName;
        IdTable = idTable;
    }

    /// <summary>Device name (VDPA_ATTR_MGMTDEV_DEV_NAME).</summary>
    public string Name { get; }

    /// <summary>Bus name, or null for a bus-less parent such as the simulators.</summary>
    public string? BusName { get; }

    /// <summary>"bus/name" or "name".</summary>
    public string Handle => BusName is null ? Name : $"{BusName}/{Name}";

    /// <summary>Device classes it can create (id_table).</summary>
    public IReadOnlyList<VirtioDeviceId> IdTable { get; }

    /// <summary>VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES: bit N for each virtio id N below 64.</summary>
    public ulong SupportedClasses => IdTable.Where(id => (uint)id < 64).Aggregate(0UL, (m, id) => m | (1UL << (int)id));

    /// <summary>config_attr_mask: which provisioning attributes dev_add accepts (bits 1 &lt;&lt; VdpaConfigAttr.*).</summary>
    public virtual ulong ConfigAttrMask => 0;

    /// <summary>supported_features (0 when the parent does not fill it).</summary>
    public virtual ulong SupportedFeatures => 0;

    /// <summary>max_supported_vqs (0 when the parent does not fill it).</summary>
    public virtual uint MaxSupportedVqs => 0;

    /// <summary>True when dev_set_attr exists.</summary>
    public virtual bool SupportsSetAttr => false;

    /// <summary>dev_add: create a device named <paramref name="name"/> and register it on <paramref name="bus"/>. Throws <see cref="VdpaException"/>.</summary>
    public abstract VdpaDevice AddDevice(VdpaBus bus, string name, DeviceConfigRequest config);

    /// <summary>
    /// The last step of a parent's dev_add (_vdpa_register_device): wraps <paramref name="ops"/> as device
    /// <paramref name="name"/> and registers it on <paramref name="bus"/>; if the bus refuses it, the ops are freed and
    /// the refusal is rethrown.
    /// </summary>
    protected VdpaDevice RegisterDevice(VdpaBus bus, string name, VdpaConfigOps ops, int numVqs)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(ops);
        var device = new VdpaDevice(name, ops, numVqs, this);
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

    /// <summary>dev_del: unregister and free the device (the bus has unbound it already).</summary>
    public abstract void DeleteDevice(VdpaBus bus, VdpaDevice device);

    /// <summary>dev_set_attr (6.12): change attributes of an existing device. Throws <see cref="VdpaException"/>.</summary>
    public virtual void SetAttributes(VdpaDevice device, DeviceConfigRequest config)
        => throw new VdpaException(Errno.EOPNOTSUPP, "vdpa: Operation not supported by the device.");
}
