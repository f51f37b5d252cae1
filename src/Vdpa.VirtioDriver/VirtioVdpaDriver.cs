using System.Collections.Concurrent;
using Uvdpa.Vdpa.Core;
using Uvdpa.Vdpa.VirtioDriver.Internal;
using Uvdpa.Virtio.Abi;
using Uvdpa.Virtio.Memory;

namespace Uvdpa.Vdpa.VirtioDriver;

/// <summary>
/// The <c>virtio_vdpa</c> bus driver (drivers/virtio/virtio_vdpa.c) together with the virtio core's probe
/// (drivers/virtio/virtio.c) and the virtio_net / virtio_blk drivers: binds a vDPA device to an in-process virtio
/// driver. The result is exposed on the device as <c>DeviceExposure("virtio", "net" | "blk")</c> whose
/// <see cref="DeviceExposure.Handle"/> is the <see cref="VirtioNetDevice"/> or <see cref="VirtioBlkDevice"/>.
/// </summary>
/// <remarks>
/// Probe order (as the kernel): device id (0 → EINVAL); the driver's DMA memory is allocated (from a memfd when the
/// device declares <see cref="VdpaOptionalOps.SharedMemory"/>) and bound
/// (<see cref="VdpaConfigOps.BindMemory"/>, the user-space analogue of "the device can reach host memory");
/// reset; ACKNOWLEDGE; DRIVER; get_device_features ∩ driver table (+ supported transport bits); set_driver_features
/// (failure → FAILED, probe fails); FEATURES_OK and a status re-read ("virtio: device refuses features" → FAILED,
/// ENODEV); per vq: get_vq_ready must be false, size, set_vq_cb, set_vq_num, set_vq_address, set_vq_state(0),
/// set_vq_ready(1); set_config_cb; DRIVER_OK. Any failure adds FAILED.
/// One deviation: in the kernel a virtio driver's probe failure leaves virtio_vdpa bound to a driverless virtio
/// device; here the whole bind fails, so the bus can try the next driver.
/// </remarks>
public sealed class VirtioVdpaDriver : IVdpaBusDriver
{
    /// <summary>The driver name used by driver_override.</summary>
    public const string DriverName = "virtio_vdpa";

    /// <summary>Exposure kind recorded on bound devices.</summary>
    public const string ExposureKind = "virtio";

    private readonly ConcurrentDictionary<VdpaDevice, Binding> _bindings = new();
    private readonly VirtioDriverOptions _defaults;

    /// <summary>Creates the driver with default options (per-device bind options override them).</summary>
    public VirtioVdpaDriver(VirtioDriverOptions? defaults = null)
    {
        _defaults = defaults ?? VirtioDriverOptions.Default;
        _defaults.Validate();
    }

    /// <inheritdoc />
    public string Name => DriverName;

    /// <summary>The net device bound to <paramref name="device"/> by a virtio_vdpa driver, or null.</summary>
    public static VirtioNetDevice? GetNetDevice(VdpaDevice device) => GetHandle<VirtioNetDevice>(device);

    /// <summary>The block device bound to <paramref name="device"/> by a virtio_vdpa driver, or null.</summary>
    public static VirtioBlkDevice? GetBlkDevice(VdpaDevice device) => GetHandle<VirtioBlkDevice>(device);

    /// <summary>The virtio device (status, features, config) bound to <paramref name="device"/>, or null.</summary>
    public static VirtioDevice? GetVirtioDevice(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var e in device.Exposures)
        {
            if (e.Kind != ExposureKind) continue;
            switch (e.Handle)
            {
                case VirtioNetDevice n: return n.Device;
                case VirtioBlkDevice b: return b.Device;
                case VirtioDevice v: return v;
            }
        }
        return null;
    }

    private static T? GetHandle<T>(VdpaDevice device) where T : class
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var e in device.Exposures)
        {
            if (e.Kind == ExposureKind && e.Handle is T t) return t;
        }
        return null;
    }

    /// <inheritdoc />
    public void Probe(VdpaDevice device, BindOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        var ops = device.Ops;
        var opts = _defaults.With(options);

        // virtio_vdpa_probe: id.device = get_device_id(); 0 is invalid.
        var id = (VirtioDeviceId)ops.GetDeviceId();
        if (id == VirtioDeviceId.Reserved) throw new VdpaException(Errno.EINVAL, detail: $"virtio_vdpa: {device.Name} has device id 0");

        int queueSize = ops.GetVqNumMax();
        if (opts.QueueSize > 0) queueSize = Math.Min(queueSize, opts.QueueSize);
        queueSize = Math.Max(queueSize, 1);
        long bytes = id switch
        {
            VirtioDeviceId.Net => VirtioNetDevice.EstimateDmaBytes(queueSize),
            VirtioDeviceId.Block => VirtioBlkDevice.EstimateDmaBytes(queueSize, opts),
            _ => 4096,
        };

        var arena = new DmaArena(bytes, shared: ops.Supports(VdpaOptionalOps.SharedMemory));
        int err = ops.BindMemory(arena.Memory);
        if (err != 0)
        {
            arena.Exit();
            throw new VdpaException(err < 0 ? -err : Errno.EIO, detail: $"virtio_vdpa: {device.Name}: bind memory failed: {err}");
        }

        var dev = new VirtioDevice(device, arena);
        object handle;
        try
        {
            // register_virtio_device: reset, then ACKNOWLEDGE.
            ThrowIfError(device.Reset(), device, "reset");
            dev.AddStatus(DeviceStatus.Acknowledge);
            handle = id switch
            {
                VirtioDeviceId.Net => ProbeNet(dev, opts),
                VirtioDeviceId.Block => ProbeBlk(dev, opts),
                // No virtio driver for this class: the virtio device exists and stays driverless (status ACKNOWLEDGE).
                _ => dev,
            };
        }
        catch (Exception e) when (e is VdpaException or InvalidOperationException or IOException or ArgumentException)
        {
            // virtio_dev_probe's error path: FAILED, queues torn down (already done by FindVqs), memory released.
            dev.MarkRemoved();
            dev.AddStatus(DeviceStatus.Failed);
            dev.DeleteVqs();
            Unbind(ops);
            dev.ReleaseMemory();
            throw;
        }

        string location = handle switch
        {
            VirtioNetDevice => "net",
            VirtioBlkDevice => "blk",
            _ => $"virtio-id-{(uint)id}",
        };
        _bindings[device] = new Binding(dev, handle);
        device.AddExposure(new DeviceExposure(ExposureKind, location) { Handle = handle });
    }

    private static VirtioNetDevice ProbeNet(VirtioDevice dev, VirtioDriverOptions opts)
    {
        dev.AddStatus(DeviceStatus.Driver);
        dev.NegotiateFeatures(VirtioNetDevice.SelectFeatures);
        var net = VirtioNetDevice.Probe(dev, opts);
        ReadyAndStart(dev, net.Start, net.OnRemoved);
        return net;
    }

    private static VirtioBlkDevice ProbeBlk(VirtioDevice dev, VirtioDriverOptions opts)
    {
        dev.AddStatus(DeviceStatus.Driver);
        dev.NegotiateFeatures(VirtioBlkDevice.SelectFeatures);
        var blk = VirtioBlkDevice.Probe(dev, opts);
        ReadyAndStart(dev, blk.Start, blk.OnRemoved);
        return blk;
    }

    private static void ReadyAndStart(VirtioDevice dev, Action start, Action onRemoved)
    {
        // virtio_device_ready: DRIVER_OK, then the driver may use its queues.
        dev.AddStatus(DeviceStatus.DriverOk);
        try
        {
            start();
        }
        catch
        {
            dev.VdpaDevice.Reset();
            onRemoved();
            throw;
        }
    }

    /// <inheritdoc />
    public void Remove(VdpaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!_bindings.TryRemove(device, out var b)) return;
        // virtnet_remove / virtblk_remove: reset the device (it stops using the rings), delete the vqs, then fail
        // whatever was still outstanding.
        b.Device.Remove();
        switch (b.Handle)
        {
            case VirtioNetDevice n: n.OnRemoved(); break;
            case VirtioBlkDevice k: k.OnRemoved(); break;
        }
        Unbind(device.Ops);
        b.Device.ReleaseMemory();
    }

    private static void Unbind(VdpaConfigOps ops)
    {
        // Drop the device's reference to our memory; the pages go away once our own last user leaves.
        ops.BindMemory(GuestMemory.Empty);
    }

    private static void ThrowIfError(int err, VdpaDevice device, string op)
    {
        if (err != 0) throw new VdpaException(err < 0 ? -err : Errno.EIO, detail: $"virtio_vdpa: {device.Name}: {op} failed: {err}");
    }

    private sealed record Binding(VirtioDevice Device, object Handle);
}
