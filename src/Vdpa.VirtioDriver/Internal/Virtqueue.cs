using Uvdpa.Vdpa.Core;
using Uvdpa.Virtio.Memory;
using Uvdpa.Virtio.Queues;

namespace Uvdpa.Vdpa.VirtioDriver.Internal;

/// <summary>
/// One driver-side virtqueue of a <see cref="VirtioDevice"/> (struct virtqueue + virtio_vdpa_vq_info): the split
/// ring, the lock that serialises its users (the ring itself is not thread-safe), and the doorbell.
/// </summary>
internal sealed class Virtqueue
{
    private readonly VdpaConfigOps _ops;
    private readonly Action? _callback;

    public Virtqueue(VdpaConfigOps ops, int index, SplitDriverQueue ring, Iova desc, Iova avail, Iova used, Action? callback, int indirectSegments)
    {
        _ops = ops;
        _callback = callback;
        Index = index;
        Ring = ring;
        DescriptorTable = desc;
        DriverArea = avail;
        DeviceArea = used;
        Interrupt = OnInterrupt;
        IndirectSegments = indirectSegments;
    }

    /// <summary>Descriptors per indirect table (0: indirect descriptors are not used on this queue).</summary>
    public int IndirectSegments { get; }

    /// <summary>Queue index on the device.</summary>
    public int Index { get; }

    /// <summary>The ring. Touch only while holding <see cref="Lock"/>.</summary>
    public SplitDriverQueue Ring { get; }

    /// <summary>Serialises every access to <see cref="Ring"/>.</summary>
    public object Lock { get; } = new();

    /// <summary>Number of descriptors.</summary>
    public int Size => Ring.Size;

    /// <summary>Descriptor table address.</summary>
    public Iova DescriptorTable { get; }

    /// <summary>Driver (avail) area address.</summary>
    public Iova DriverArea { get; }

    /// <summary>Device (used) area address.</summary>
    public Iova DeviceArea { get; }

    /// <summary>The delegate registered with set_vq_cb (vring_interrupt), allocated once.</summary>
    public Action Interrupt { get; }

    /// <summary>Number of interrupts (callbacks) received.</summary>
    public long InterruptCount => Volatile.Read(ref _interrupts);

    private long _interrupts;

    /// <summary>kick_vq. Call without holding <see cref="Lock"/> (the device may call back from its own thread).</summary>
    public void Notify() => _ops.KickVq(Index);

    private void OnInterrupt()
    {
        Interlocked.Increment(ref _interrupts);
        _callback?.Invoke();
    }
}
