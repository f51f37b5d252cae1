using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.Simulator;

/// <summary>struct vdpasim_virtqueue: one queue's driver-set parameters plus the device-side ring.</summary>
internal sealed class VdpaSimVirtqueue
{
    private DescriptorChain? _chain;
    private volatile VdpaCallback? _callback;

    public VdpaSimVirtqueue(int index) => Index = index;

    /// <summary>Queue index.</summary>
    public int Index { get; }

    /// <summary>The device side of the ring (vringh).</summary>
    public SplitDeviceQueue Queue { get; } = new(VdpaSimDevice.QueueMax);

    /// <summary>vq->ready (kept apart from the ring, as in the kernel).</summary>
    public bool Ready { get; set; }

    /// <summary>vq->num as last set (applied when the queue becomes ready).</summary>
    public uint Num { get; set; }

    /// <summary>vq->desc_addr.</summary>
    public Iova DescArea { get; set; }

    /// <summary>vq->driver_addr.</summary>
    public Iova DriverArea { get; set; }

    /// <summary>vq->device_addr.</summary>
    public Iova DeviceArea { get; set; }

    /// <summary>Address space whose IOTLB this queue uses (vringh_set_iotlb).</summary>
    public uint Asid { get; set; }

    /// <summary>Kick or poll.</summary>
    public VqNotificationMode Mode { get; set; }

    /// <summary>vq->cb; read by the worker without the device lock.</summary>
    public VdpaCallback? Callback
    {
        get => _callback;
        set => _callback = value;
    }

    /// <summary>
    /// The worker set VRING_USED_F_NO_NOTIFY while busy-polling this ring and has not cleared it yet. Survives ring
    /// stops and resets on purpose: the flag stays in the ring's memory, so the next run that is not spinning on
    /// this ring must clear it, or a driver in kick mode would never kick again.
    /// </summary>
    public bool NotifySuppressed { get; set; }

    /// <summary>Set by a completion in the current run: ask the ring whether the driver wants an interrupt.</summary>
    public bool NotifyCheck { get; set; }

    /// <summary>Set when the work calls the callback unconditionally (the net CVQ does).</summary>
    public bool ForceNotify { get; set; }

    /// <summary>The reusable chain holder, allocated on first use so idle devices stay small.</summary>
    public DescriptorChain Chain => _chain ??= new DescriptorChain(VdpaSimDevice.QueueMax);
}
