namespace Uvdpa.Vdpa.Core;

/// <summary>struct vdpa_driver: a vDPA bus driver (virtio_vdpa, vhost_vdpa, ...).</summary>
public interface IVdpaBusDriver
{
    /// <summary>Driver name as used by driver_override ("virtio_vdpa", "vhost_vdpa").</summary>
    string Name { get; }

    /// <summary>Takes the device. Throw <see cref="VdpaException"/> to refuse it (the bus then tries the next driver).</summary>
    void Probe(VdpaDevice device, BindOptions options);

    /// <summary>Releases the device; must leave it reset and not ready. Must not throw.</summary>
    void Remove(VdpaDevice device);
}
